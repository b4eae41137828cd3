"""A PyTorch model traced into a derivchain network: every tensor entry a node, every parameter entry a leaf.

``from_torch(model, inputs, loss=criterion, target=target)`` traces ``model`` with ``torch.fx`` (and, where
fx cannot, ``torch.export`` with core-op decomposition), runs the graph on tensors of SymPy entries, and
builds the network a ``[[nodes]]`` graph builds: one expression node (``ExprNode``) per entry of each
operation's result, reading the entries it is computed from. Leaves are named as PyTorch names them,
0-based: ``fc1.weight[1,0]`` (an ``nn.Linear`` weight is stored (out, in)), ``fc1.bias[2]``, the inputs
``x[i,j]`` and the targets ``target[i,j]`` (a class-index target of ``CrossEntropyLoss``/``NLLLoss`` as
its one-hot rows). A parameter used twice is one symbol. The network carries the tensors' values as exact
fractions (a float64 is a dyadic rational: ``Fraction(float)`` is exact) as its default values.

PyTorch's conventions are kept: ReLU'(0) = 0 (derivchain's relu, Heaviside(z, 0)), LeakyReLU'(0) = its
slope, the losses' ``mean`` reduction (over every element; ``CrossEntropyLoss`` and ``NLLLoss`` over the
batch), ``CrossEntropyLoss`` taking logits. Torch is optional: without it, one line names the extra.
"""

from __future__ import annotations

import itertools
import math
import operator
from dataclasses import replace
from fractions import Fraction

import sympy as sp

from ..errors import DerivchainError
from ..symbolic.functions import leaky_relu, relu, sigmoid
from .losses import Loss
from .network import Network, real
from .activations import get_activation
from .nodes import ExprNode, Neuron
from .notation import FLAT

#: The extra that installs PyTorch (pyproject.toml's optional dependency).
EXTRA = "pip install 'derivchain[cross-check]'"


class TorchModelError(DerivchainError):
    """A PyTorch model derivchain cannot trace: an operation it does not know, or torch not installed."""


def need_torch():
    """The torch module, or a one-line error naming the extra that installs it."""
    import warnings

    # A CPU build of torch without NumPy warns on import; derivchain never hands torch a NumPy array.
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    try:
        import torch
    except ImportError:
        raise TorchModelError(f"PyTorch is not installed; install it with {EXTRA}") from None
    return torch


# --- tensors of SymPy entries ------------------------------------------------------------------

class STensor:
    """A tensor of SymPy expressions: its shape and its entries in row-major order."""

    __slots__ = ("shape", "flat")

    def __init__(self, shape, flat):
        self.shape, self.flat = tuple(shape), list(flat)
        assert len(self.flat) == math.prod(self.shape), (self.shape, len(self.flat))

    def index(self, idx) -> int:
        """The flat position of the multi-index ``idx``."""
        pos = 0
        for i, n in zip(idx, self.shape):
            pos = pos * n + i
        return pos

    def at(self, idx):
        return self.flat[self.index(idx)]

    def indices(self):
        return itertools.product(*(range(n) for n in self.shape))

    def map(self, f) -> "STensor":
        return STensor(self.shape, [f(e) for e in self.flat])


def _broadcast(a: STensor, b: STensor, f) -> STensor:
    shape = []
    for x, y in itertools.zip_longest(reversed(a.shape), reversed(b.shape), fillvalue=1):
        if x != y and 1 not in (x, y):
            raise TorchModelError(f"shapes {list(a.shape)} and {list(b.shape)} do not broadcast")
        shape.append(max(x, y))
    shape = tuple(reversed(shape))

    def pick(t, idx):
        idx = idx[len(idx) - len(t.shape):]
        return t.at(tuple(0 if n == 1 else i for i, n in zip(idx, t.shape)))

    return STensor(shape, [f(pick(a, idx), pick(b, idx)) for idx in itertools.product(*(range(n) for n in shape))])


def _scalar(value) -> STensor:
    if isinstance(value, STensor):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TorchModelError(f"a constant of type {type(value).__name__} is not supported")
    return STensor((), [sp.Integer(value) if isinstance(value, int) else sp.Rational(Fraction(value))])


def _reshape(t: STensor, shape) -> STensor:
    shape = list(shape)
    if -1 in shape:
        known = math.prod(n for n in shape if n != -1)
        shape[shape.index(-1)] = len(t.flat) // known
    if math.prod(shape) != len(t.flat):
        raise TorchModelError(f"cannot reshape {list(t.shape)} to {shape}")
    return STensor(shape, t.flat)


def _flatten(t: STensor, start: int = 0, end: int = -1) -> STensor:
    nd = len(t.shape)
    start, end = start % nd if nd else 0, end % nd if nd else 0
    shape = t.shape[:start] + (math.prod(t.shape[start:end + 1]),) + t.shape[end + 1:]
    return STensor(shape, t.flat)


def _transpose(t: STensor, d0: int = 0, d1: int = 1) -> STensor:
    nd = len(t.shape)
    if nd < 2:
        return t
    d0, d1 = d0 % nd, d1 % nd
    order = list(range(nd))
    order[d0], order[d1] = order[d1], order[d0]
    return _permute(t, order)


def _permute(t: STensor, order) -> STensor:
    shape = tuple(t.shape[d] for d in order)
    out = []
    for idx in itertools.product(*(range(n) for n in shape)):
        src = [0] * len(order)
        for k, d in enumerate(order):
            src[d] = idx[k]
        out.append(t.at(tuple(src)))
    return STensor(shape, out)


def _matmul(a: STensor, b: STensor) -> STensor:
    if len(a.shape) == 1:
        a = STensor((1, a.shape[0]), a.flat)
        squeeze_a = True
    else:
        squeeze_a = False
    if len(b.shape) == 1:
        b = STensor((b.shape[0], 1), b.flat)
        squeeze_b = True
    else:
        squeeze_b = False
    if len(a.shape) != 2 or len(b.shape) != 2 or a.shape[1] != b.shape[0]:
        raise TorchModelError(f"matmul of shapes {list(a.shape)} and {list(b.shape)} is not supported (2-D only)")
    n, k, m = a.shape[0], a.shape[1], b.shape[1]
    out = [sp.Add(*(a.flat[i * k + r] * b.flat[r * m + j] for r in range(k))) for i in range(n) for j in range(m)]
    shape = (n, m)
    if squeeze_a and squeeze_b:
        shape = ()
    elif squeeze_a:
        shape = (m,)
    elif squeeze_b:
        shape = (n,)
    return STensor(shape, out)


def _linear(x: STensor, weight: STensor, bias: STensor | None) -> STensor:
    # nn.Linear stores its weight (out, in) and computes x @ W.T + b.
    y = _matmul(x, _transpose(weight))
    return y if bias is None else _broadcast(y, bias, operator.add)


def _reduce(t: STensor, dim, keepdim: bool, mean: bool) -> STensor:
    if dim is None:
        total = sp.Add(*t.flat)
        return STensor((), [total / len(t.flat) if mean else total])
    dims = sorted(d % len(t.shape) for d in (dim if isinstance(dim, (list, tuple)) else [dim]))
    kept = tuple(1 if d in dims else n for d, n in enumerate(t.shape))
    groups: dict = {}
    for idx in t.indices():
        key = tuple(0 if d in dims else i for d, i in enumerate(idx))
        groups.setdefault(key, []).append(t.at(idx))
    count = math.prod(t.shape[d] for d in dims)
    flat = [sp.Add(*groups[key]) / count if mean else sp.Add(*groups[key])
            for key in itertools.product(*(range(n) for n in kept))]
    shape = kept if keepdim else tuple(n for d, n in enumerate(t.shape) if d not in dims)
    return STensor(shape, flat)


def _softmax(t: STensor, dim: int, log: bool) -> STensor:
    dim = dim % len(t.shape)
    out = list(t.flat)
    rest = [range(n) for d, n in enumerate(t.shape) if d != dim]
    for outer in itertools.product(*rest):
        idxs = [outer[:dim] + (k,) + outer[dim:] for k in range(t.shape[dim])]
        entries = [t.at(i) for i in idxs]
        total = sp.Add(*(sp.exp(e) for e in entries))
        for i, e in zip(idxs, entries):
            out[t.index(i)] = e - sp.log(total) if log else sp.exp(e) / total
    return STensor(t.shape, out)


def _conv(x: STensor, weight: STensor, bias: STensor | None, stride, padding, dilation, groups, dims: int) -> STensor:
    if groups != 1:
        raise TorchModelError("a convolution with groups > 1 is not supported")
    batched = len(x.shape) == dims + 2
    if not batched:
        x = STensor((1,) + x.shape, x.flat)
    stride, padding, dilation = (tuple(v) if isinstance(v, (tuple, list)) else (v,) * dims for v in (stride, padding, dilation))
    if isinstance(padding[0], str):
        raise TorchModelError("a convolution with padding given by name is not supported; give it as a number")
    n, c = x.shape[0], x.shape[1]
    o, ci, *kernel = weight.shape
    if ci != c:
        raise TorchModelError(f"a convolution of {c} channels with a weight of {ci}")
    sizes = x.shape[2:]
    outs = [(sizes[d] + 2 * padding[d] - dilation[d] * (kernel[d] - 1) - 1) // stride[d] + 1 for d in range(dims)]
    flat = []
    for b, oc in itertools.product(range(n), range(o)):
        for pos in itertools.product(*(range(k) for k in outs)):
            terms = []
            for ic in range(c):
                for kpos in itertools.product(*(range(k) for k in kernel)):
                    src = [pos[d] * stride[d] - padding[d] + kpos[d] * dilation[d] for d in range(dims)]
                    if all(0 <= s < sizes[d] for d, s in enumerate(src)):  # zero padding adds nothing
                        terms.append(x.at((b, ic, *src)) * weight.at((oc, ic, *kpos)))
            if bias is not None:
                terms.append(bias.flat[oc])
            flat.append(sp.Add(*terms))
    shape = (n, o, *outs) if batched else (o, *outs)
    return STensor(shape, flat)


# --- the operations, by what fx names ------------------------------------------------------------

def _arg(args, kwargs, i, name, default=None):
    if len(args) > i:
        return args[i]
    return kwargs.get(name, default)


def _elementwise(f):
    return lambda args, kwargs: args[0].map(f)


def _leaky(args, kwargs):
    slope = _arg(args, kwargs, 1, "negative_slope", 0.01)
    return args[0].map(lambda e: leaky_relu(e, sp.Rational(Fraction(slope))))


def _binary(op):
    return lambda args, kwargs: _broadcast(_scalar(args[0]), _scalar(args[1]), op)


def _softmax_op(log):
    def op(args, kwargs):
        dim = _arg(args, kwargs, 1, "dim")
        if dim is None:
            raise TorchModelError("softmax without dim is not supported; give dim")
        return _softmax(args[0], dim, log)
    return op


def _flatten_op(args, kwargs):
    return _flatten(args[0], _arg(args, kwargs, 1, "start_dim", 0), _arg(args, kwargs, 2, "end_dim", -1))


def _view(args, kwargs):
    shape = args[1:] if not (len(args) == 2 and isinstance(args[1], (tuple, list))) else args[1]
    return _reshape(args[0], shape)


def _sum_op(mean):
    return lambda args, kwargs: _reduce(args[0], _arg(args, kwargs, 1, "dim"), _arg(args, kwargs, 2, "keepdim", False), mean)


def _identity(args, kwargs):
    return args[0]


def _neg(args, kwargs):
    return args[0].map(lambda e: -e)


def _t(args, kwargs):
    return _transpose(args[0])


def _transpose_op(args, kwargs):
    return _transpose(args[0], _arg(args, kwargs, 1, "dim0"), _arg(args, kwargs, 2, "dim1"))


def _permute_op(args, kwargs):
    order = args[1] if len(args) == 2 and isinstance(args[1], (tuple, list)) else args[1:]
    return _permute(args[0], order)


def _linear_op(args, kwargs):
    return _linear(args[0], args[1], _arg(args, kwargs, 2, "bias"))


def _conv_op(dims):
    def op(args, kwargs):
        return _conv(args[0], args[1], _arg(args, kwargs, 2, "bias"), _arg(args, kwargs, 3, "stride", 1),
                     _arg(args, kwargs, 4, "padding", 0), _arg(args, kwargs, 5, "dilation", 1),
                     _arg(args, kwargs, 6, "groups", 1), dims)
    return op


def _functions(torch) -> dict:
    """The functions (``call_function``) and methods (``call_method``, by name) a model may call."""
    F = torch.nn.functional
    same = {
        "relu": _elementwise(relu), "sigmoid": _elementwise(sigmoid), "tanh": _elementwise(sp.tanh),
        "exp": _elementwise(sp.exp), "log": _elementwise(sp.log), "neg": _neg, "leaky_relu": _leaky,
        "softmax": _softmax_op(False), "log_softmax": _softmax_op(True), "flatten": _flatten_op,
        "add": _binary(operator.add), "sub": _binary(operator.sub), "mul": _binary(operator.mul),
        "div": _binary(operator.truediv), "matmul": _matmul_op, "sum": _sum_op(False), "mean": _sum_op(True),
        "t": _t, "transpose": _transpose_op, "permute": _permute_op, "pow": _binary(operator.pow),
    }
    functions = {operator.add: same["add"], operator.sub: same["sub"], operator.mul: same["mul"],
                 operator.truediv: same["div"], operator.pow: same["pow"], operator.matmul: same["matmul"], operator.neg: _neg,
                 F.relu: same["relu"], F.leaky_relu: _leaky, F.softmax: same["softmax"], F.log_softmax: same["log_softmax"],
                 F.linear: _linear_op, F.conv1d: _conv_op(1), F.conv2d: _conv_op(2), torch.flatten: _flatten_op,
                 F.sigmoid: same["sigmoid"], F.tanh: same["tanh"], torch.reshape: _view}
    for name in ("relu", "sigmoid", "tanh", "exp", "log", "neg", "softmax", "log_softmax", "add", "sub", "mul", "div",
                 "matmul", "sum", "mean", "t", "transpose", "permute", "pow"):
        if hasattr(torch, name):
            functions[getattr(torch, name)] = same[name]
    methods = dict(same, view=_view, reshape=_view, contiguous=_identity, squeeze=_squeeze, unsqueeze=_unsqueeze)
    return {"functions": functions, "methods": methods}


def _matmul_op(args, kwargs):
    return _matmul(args[0], args[1])


def _squeeze(args, kwargs):
    t, dim = args[0], _arg(args, kwargs, 1, "dim")
    if dim is None:
        return STensor(tuple(n for n in t.shape if n != 1), t.flat)
    dim = dim % len(t.shape)
    return t if t.shape[dim] != 1 else STensor(t.shape[:dim] + t.shape[dim + 1:], t.flat)


def _unsqueeze(args, kwargs):
    t, dim = args[0], _arg(args, kwargs, 1, "dim")
    dim = dim % (len(t.shape) + 1)
    return STensor(t.shape[:dim] + (1,) + t.shape[dim:], t.flat)


def _module_op(torch, module):
    """What a module computes, from its own parameters' entries (``params``: its attribute -> STensor)."""
    nn = torch.nn
    if isinstance(module, nn.Linear):
        return lambda x, p: _linear(x, p["weight"], p.get("bias"))
    if isinstance(module, (nn.Conv1d, nn.Conv2d)):
        dims = 1 if isinstance(module, nn.Conv1d) else 2
        if module.padding_mode != "zeros":
            return None
        return lambda x, p: _conv(x, p["weight"], p.get("bias"), module.stride, module.padding, module.dilation,
                                  module.groups, dims)
    if isinstance(module, nn.ReLU):
        return lambda x, p: x.map(relu)
    if isinstance(module, nn.LeakyReLU):
        slope = sp.Rational(Fraction(module.negative_slope))
        return lambda x, p: x.map(lambda e: leaky_relu(e, slope))
    if isinstance(module, nn.Sigmoid):
        return lambda x, p: x.map(sigmoid)
    if isinstance(module, nn.Tanh):
        return lambda x, p: x.map(sp.tanh)
    if isinstance(module, (nn.Softmax, nn.LogSoftmax)):
        if module.dim is None:
            return None
        log = isinstance(module, nn.LogSoftmax)
        return lambda x, p: _softmax(x, module.dim, log)
    if isinstance(module, nn.Flatten):
        return lambda x, p: _flatten(x, module.start_dim, module.end_dim)
    if isinstance(module, nn.Identity) or isinstance(module, _dropouts(nn)) and not module.training:
        return lambda x, p: x  # Dropout in eval mode passes its input through, as PyTorch's does
    return None


#: Operations that only move entries: their results are the entries they read, no new nodes.
_MOVES = {"flatten", "view", "reshape", "t", "transpose", "permute", "contiguous", "squeeze", "unsqueeze"}


# --- tracing ------------------------------------------------------------------------------------

class _Tracer:
    """One model's trace: leaves named as PyTorch names them, one expression node per entry of each result."""

    def __init__(self, torch, model, names_of: dict):
        self.torch, self.model = torch, model
        self.names_of = names_of  # id(parameter tensor) -> its name in named_parameters()
        self.table = _functions(torch)
        self.nodes: list[ExprNode] = []
        self.layer: dict[sp.Symbol, int] = {}
        self.leaves: dict[str, STensor] = {}
        self.values: dict[str, Fraction] = {}
        self.taken: set[str] = set()
        self.input_names: list[str] = []

    def leaf(self, name: str, tensor) -> STensor:
        """The STensor of symbols ``name[i,j]`` for a tensor, its values recorded exactly."""
        if name in self.leaves:
            return self.leaves[name]
        data = tensor.detach().to(self.torch.float64).reshape(-1).tolist()
        shape = tuple(tensor.shape)
        symbols = []
        for idx, v in zip(itertools.product(*(range(n) for n in shape)), data):
            entry = f"{name}[{','.join(map(str, idx))}]" if shape else name
            symbols.append(real(entry))
            self.values[entry] = Fraction(v)
        self.leaves[name] = STensor(shape, symbols)
        return self.leaves[name]

    def parameter(self, name: str, tensor) -> STensor:
        # A parameter reached under another name (a tied weight) is the one named by named_parameters().
        return self.leaf(self.names_of.get(id(tensor), name), tensor)

    def _base(self, name: str) -> str:
        if not name[:1].isalpha():  # fx names a Sequential's modules _0, _1: a name starts with a letter
            name = "out" + name.lstrip("_")
        base = name
        k = 1
        while base in self.taken:
            k += 1
            base = f"{name}_{k}"
        self.taken.add(base)
        return base

    def linear(self, name: str, x: STensor, weight: STensor, bias: STensor | None) -> STensor:
        """x @ W.T + b as neurons, one per output entry: each reads its row of x through the weights of W's row
        (a neuron's partials are its edges, not a differentiated sum: the engines' fast case)."""
        flat = x.flat + weight.flat + (bias.flat if bias is not None else [])
        if len(x.shape) != 2 or len(weight.shape) != 2 or not all(isinstance(e, sp.Symbol) for e in flat) \
                or x.shape[1] != weight.shape[1]:
            return self.materialise(name, _linear(x, weight, bias))
        base = self._base(name)
        identity = get_activation("identity")
        (n, k), out_features = x.shape, weight.shape[0]
        out = []
        for i in range(n):
            for j in range(out_features):
                sources = tuple((x.flat[i * k + r], weight.flat[j * k + r]) for r in range(k))
                symbol = real(f"{base}[{i},{j}]")
                reads = [s for edge in sources for s in edge] + ([bias.flat[j]] if bias is not None else [])
                layer = 1 + max((self.layer.get(s, 0) for s in reads), default=0)
                self.layer[symbol] = layer
                self.nodes.append(Neuron(symbol, layer, sources, bias.flat[j] if bias is not None else None, identity, False))
                out.append(symbol)
        return STensor((n, out_features), out)

    def materialise(self, name: str, t: STensor) -> STensor:
        """One expression node per entry of ``t``, named ``name[i,j]``; the result reads those symbols."""
        base = self._base(name)
        out = []
        for idx, expr in zip(t.indices(), t.flat):
            if expr.is_Symbol or expr.is_number:
                out.append(expr)  # nothing computed: no node
                continue
            symbol = real(f"{base}[{','.join(map(str, idx))}]" if t.shape else base)
            layer = 1 + max((self.layer.get(s, 0) for s in expr.free_symbols), default=0)
            self.layer[symbol] = layer
            self.nodes.append(ExprNode(symbol, layer, expr, False))
            out.append(symbol)
        return STensor(t.shape, out)

    def run(self, graph, inputs: list) -> STensor:
        env: dict = {}
        placeholders = iter(inputs)
        result = None
        for node in graph.nodes:
            if node.op == "placeholder":
                env[node.name] = next(placeholders)
            elif node.op == "get_attr":
                env[node.name] = self.parameter(node.target, _attr(self.model, node.target))
            elif node.op == "output":
                result = _first(node.args[0])
                result = env[result.name] if hasattr(result, "name") else result
            else:
                env[node.name] = self.call(node, env)
        if not isinstance(result, STensor):
            raise TorchModelError("the model's forward returns no tensor; return the tensor the loss reads")
        return result

    def call(self, node, env):
        args = _substitute(node.args, env)
        kwargs = _substitute(node.kwargs, env)
        if node.op == "call_module":
            module = self.model.get_submodule(node.target)
            op = _module_op(self.torch, module)
            if op is None:
                raise TorchModelError(f"the module {type(module).__name__} at {node.target!r} is not supported: "
                                      f"{_fix_for(self.torch, module)}; supported: {SUPPORTED} (docs/torch.md)")
            params = {n: self.parameter(f"{node.target}.{n}", p) for n, p in module.named_parameters(recurse=False)}
            if not isinstance(args[0], STensor):
                raise TorchModelError(f"the module {node.target!r} reads no tensor")
            if isinstance(module, self.torch.nn.Linear):
                return self.linear(node.name, args[0], params["weight"], params.get("bias"))
            out = op(args[0], params)
            moves = isinstance(module, (self.torch.nn.Flatten, self.torch.nn.Identity, *_dropouts(self.torch.nn)))
            return out if moves else self.materialise(node.name, out)
        if node.op == "call_function":
            op = self.table["functions"].get(node.target)
            what = getattr(node.target, "__name__", str(node.target))
        else:
            op = self.table["methods"].get(node.target)
            what = f"Tensor.{node.target}"
        if op is None:
            where = _where(node)
            raise TorchModelError(f"the operation {what} ({node.name}{where}) is not supported; supported: {SUPPORTED}")
        if op is _linear_op and isinstance(args[0], STensor) and isinstance(args[1], STensor):
            return self.linear(node.name, args[0], args[1], _arg(args, kwargs, 2, "bias"))
        out = op(args, kwargs)
        if not isinstance(out, STensor):
            raise TorchModelError(f"the operation {what} ({node.name}) gives no tensor")
        name = node.target if isinstance(node.target, str) else what
        return out if name in _MOVES else self.materialise(node.name, out)


SUPPORTED = ("Linear, Conv1d, Conv2d, ReLU, LeakyReLU, Sigmoid, Tanh, Softmax, LogSoftmax, Flatten, Identity, "
             "Sequential, Dropout in eval mode; + - * / ** @, sum, mean, exp, log, view/reshape/flatten/squeeze/unsqueeze, "
             "t/transpose/permute and the F. and torch. forms")


def _fix_for(torch, module) -> str:
    """What to do instead of an unsupported module: a fix that holds for it, else the general one."""
    nn = torch.nn
    if isinstance(module, _dropouts(nn)):  # only reached in training mode (eval mode is the identity)
        return ("in training mode it draws a random mask at every call, no function to differentiate; "
                "call model.eval() in your function before returning the model (Dropout is then the identity)")
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
        return ("remove it, or fold it (in eval mode an affine map) into the Linear or Conv before it; its training-mode "
                "normalisation over the batch is derived by derivchain's own graph, --network batchnorm:batch=B")
    if isinstance(module, nn.GELU):
        return ("replace it with ReLU, LeakyReLU, Tanh or Sigmoid, or write an approximation in forward from supported "
                "operations (x * torch.sigmoid(1.702 * x))")
    return "replace it with supported modules, or write what it computes in forward from supported operations"


def _dropouts(nn) -> tuple:
    return tuple(getattr(nn, name) for name in ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
                                                "FeatureAlphaDropout") if hasattr(nn, name))


def _where(node) -> str:
    """`` in module 'encoder.1'``: the module whose forward made ``node`` (fx records it), or nothing."""
    stack = getattr(node, "meta", {}).get("nn_module_stack")
    if not stack:
        return ""
    path = list(stack.values())[-1]
    path = path[0] if isinstance(path, tuple) else path
    return f" in module {path!r}" if path else ""


def _first(value):
    if isinstance(value, (tuple, list)):
        return value[0]
    return value


def _substitute(value, env):
    if isinstance(value, (tuple, list)):
        return type(value)(_substitute(v, env) for v in value)
    if isinstance(value, dict):
        return {k: _substitute(v, env) for k, v in value.items()}
    if hasattr(value, "op") and hasattr(value, "name") and value.name in env:
        return env[value.name]
    return value


def _attr(model, target: str):
    obj = model
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


# --- losses ---------------------------------------------------------------------------------------

#: Each loss: (the name PyTorch gives it, whether its target is class indices).
LOSSES = {"MSELoss": "mse_loss", "L1Loss": "l1_loss", "BCELoss": "binary_cross_entropy",
          "BCEWithLogitsLoss": "binary_cross_entropy_with_logits", "CrossEntropyLoss": "cross_entropy",
          "NLLLoss": "nll_loss"}


def _loss_kind(torch, loss) -> tuple[str, str]:
    """(the loss's class name, its reduction) for an ``nn`` loss module or an ``F.`` loss function."""
    functional = {getattr(torch.nn.functional, f): name for name, f in LOSSES.items()}
    if loss in functional:
        return functional[loss], "mean"
    name = type(loss).__name__
    if name not in LOSSES or not isinstance(loss, torch.nn.Module):
        raise TorchModelError(f"the loss {name} is not supported; supported: {', '.join(LOSSES)} (modules or F. functions)")
    for attr, default in (("weight", None), ("pos_weight", None)):
        if getattr(loss, attr, default) is not None:
            raise TorchModelError(f"{name} with {attr} is not supported; drop {attr}")
    if getattr(loss, "label_smoothing", 0.0):
        raise TorchModelError(f"{name} with label_smoothing is not supported; drop label_smoothing")
    if getattr(loss, "ignore_index", -100) != -100:
        raise TorchModelError(f"{name} with ignore_index is not supported; drop ignore_index")
    return name, loss.reduction


def _loss_body(name: str, reduction: str, out: STensor, target: STensor) -> sp.Expr:
    """The loss in the output's and the target's entries, reduced as PyTorch reduces it."""
    if reduction not in ("mean", "sum"):
        raise TorchModelError(f"{name}(reduction={reduction!r}) is not supported: a loss is one number; use mean or sum")
    if name in ("CrossEntropyLoss", "NLLLoss"):
        logp = _softmax(out, 1 if len(out.shape) > 1 else 0, True) if name == "CrossEntropyLoss" else out
        if logp.shape != target.shape:
            raise TorchModelError(f"{name}: the target's shape {list(target.shape)} is not the output's {list(out.shape)}")
        terms = [-(t * e) for t, e in zip(target.flat, logp.flat)]
        batch = out.shape[0] if len(out.shape) > 1 else 1
        total = sp.Add(*terms)
        return total / batch if reduction == "mean" else total
    if out.shape != target.shape:
        raise TorchModelError(f"{name}: the target's shape {list(target.shape)} is not the output's {list(out.shape)}")
    pairs = list(zip(out.flat, target.flat))
    if name == "MSELoss":
        terms = [(o - t) ** 2 for o, t in pairs]
    elif name == "L1Loss":
        terms = [sp.Abs(o - t) for o, t in pairs]
    elif name == "BCELoss":
        terms = [-(t * sp.log(o) + (1 - t) * sp.log(1 - o)) for o, t in pairs]
    else:  # BCEWithLogitsLoss: -(t log s(z) + (1 - t) log(1 - s(z))) = log(1 + e^z) - t z
        terms = [sp.log(1 + sp.exp(o)) - t * o for o, t in pairs]
    total = sp.Add(*terms)
    return total / len(pairs) if reduction == "mean" else total


# --- the entry point ------------------------------------------------------------------------------

def trace(torch, model, inputs: list):
    """The model's graph: ``torch.fx``'s, or the ExportedProgram of torch.export with core ATen ops where fx cannot."""
    import torch.fx as fx

    try:
        return fx.symbolic_trace(model).graph
    except Exception as fx_error:  # data-dependent control flow, ...: torch.export specialises on the inputs
        try:
            exported = torch.export.export(model, tuple(inputs)).run_decompositions()
        except Exception:
            raise TorchModelError(f"torch.fx cannot trace the model ({type(fx_error).__name__}: "
                                  f"{str(fx_error).splitlines()[0][:120]}) and neither can torch.export") from None
        return exported


def from_torch(model, inputs, loss=None, target=None, name: str | None = None) -> Network:
    """The network that ``model`` computes on ``inputs`` with ``loss(model(inputs), target)``, its leaves the
    model's parameter entries (``fc1.weight[1,0]``), the inputs' (``x[i,j]``) and the target's
    (``target[i,j]``), its default values the tensors' (exactly)."""
    torch = need_torch()
    if loss is None or target is None:
        raise TorchModelError("from_torch needs loss= (an nn loss module, e.g. nn.MSELoss()) and target= (a tensor)")
    inputs = list(inputs) if isinstance(inputs, (tuple, list)) else [inputs]
    if not all(isinstance(x, torch.Tensor) for x in inputs) or not isinstance(target, torch.Tensor):
        raise TorchModelError("from_torch: inputs and target must be tensors")
    loss_name, reduction = _loss_kind(torch, loss)
    names_of: dict = {}
    for pname, p in model.named_parameters():  # named_parameters() lists a tied parameter once
        names_of.setdefault(id(p), pname)
    graph = trace(torch, model, inputs)
    tracer = _Tracer(torch, model, names_of)
    tracer.input_names = ["x" if len(inputs) == 1 else f"x{k}" for k in range(len(inputs))]
    symbolic_inputs = [tracer.leaf(n, x) for n, x in zip(tracer.input_names, inputs)]
    if hasattr(graph, "graph_signature"):
        out = _run_exported(tracer, graph, symbolic_inputs)
    else:
        out = tracer.run(graph, symbolic_inputs)
    if loss_name in ("CrossEntropyLoss", "NLLLoss") and not target.is_floating_point():
        classes = out.shape[1] if len(out.shape) > 1 else out.shape[0]
        target = torch.nn.functional.one_hot(target, classes).to(torch.float64)
    target_leaf = tracer.leaf("target", target)
    body = _loss_body(loss_name, reduction, out, target_leaf)
    return _network(tracer, body, f"{loss_name}({reduction})", name or type(model).__name__, target_leaf)


def _run_exported(tracer: _Tracer, exported, symbolic_inputs) -> STensor:
    """Run torch.export's core-ATen graph: parameters are placeholders named by the graph signature."""
    torch = tracer.torch
    signature = exported.graph_signature
    params = dict(exported.named_parameters())
    to_param = dict(signature.inputs_to_parameters)
    user = iter(symbolic_inputs)
    env: dict = {}
    aten = torch.ops.aten
    table = {aten.addmm.default: lambda a, k: _broadcast(_matmul(a[1], a[2]), a[0], operator.add),
             aten.mm.default: lambda a, k: _matmul(a[0], a[1]),
             aten.permute.default: lambda a, k: _permute(a[0], a[1]), aten.t.default: lambda a, k: _transpose(a[0]),
             aten.view.default: lambda a, k: _reshape(a[0], a[1]), aten.reshape.default: lambda a, k: _reshape(a[0], a[1]),
             aten.add.Tensor: _binary(operator.add), aten.sub.Tensor: _binary(operator.sub),
             aten.mul.Tensor: _binary(operator.mul), aten.div.Tensor: _binary(operator.truediv),
             aten.pow.Tensor_Scalar: _binary(operator.pow),
             aten.relu.default: _elementwise(relu), aten.sigmoid.default: _elementwise(sigmoid),
             aten.tanh.default: _elementwise(sp.tanh), aten.exp.default: _elementwise(sp.exp),
             aten.neg.default: _neg, aten.leaky_relu.default: _leaky,
             aten._softmax.default: lambda a, k: _softmax(a[0], a[1], False),
             aten._log_softmax.default: lambda a, k: _softmax(a[0], a[1], True),
             aten.sum.dim_IntList: lambda a, k: _reduce(a[0], a[1], a[2] if len(a) > 2 else k.get("keepdim", False), False),
             aten.mean.dim: lambda a, k: _reduce(a[0], a[1], a[2] if len(a) > 2 else k.get("keepdim", False), True),
             aten.convolution.default: lambda a, k: _conv(a[0], a[1], a[2], a[3], a[4], a[5], a[8], len(a[3]))}
    moves = {aten.permute.default, aten.t.default, aten.view.default, aten.reshape.default}
    result = None
    for node in exported.graph.nodes:
        if node.op == "placeholder":
            if node.name in to_param:
                pname = to_param[node.name]
                env[node.name] = tracer.leaf(pname, params[pname])
            else:
                env[node.name] = next(user)
        elif node.op == "output":
            result = env[_first(node.args[0]).name]
        elif node.op == "call_function":
            op = table.get(node.target)
            if op is None:
                raise TorchModelError(f"the operation {node.target} ({node.name}) is not supported; supported: {SUPPORTED}")
            out = op(_substitute(node.args, env), _substitute(node.kwargs, env))
            env[node.name] = out if node.target in moves else tracer.materialise(node.name, out)
        else:
            raise TorchModelError(f"the operation {node.op} {node.target} ({node.name}) is not supported")
    return result


def _network(tracer: _Tracer, body: sp.Expr, loss_name: str, title: str, target: STensor) -> Network:
    nodes = tracer.nodes
    node_symbols = {n.symbol for n in nodes}
    outputs = body.free_symbols & node_symbols
    if not outputs:
        raise TorchModelError("the loss reads no computed entry: the model's output does not depend on its parameters")
    # Only entries that reach the loss, walking back from those it reads.
    needed = set(outputs)
    for n in reversed(nodes):
        if n.symbol in needed:
            needed |= set(n.reads) & node_symbols
    built = [replace(n, is_output=n.symbol in outputs) for n in nodes if n.symbol in needed]
    read = set().union(*(n.reads for n in built), body.free_symbols)
    data = set(tracer.input_names) | {"target"}
    inputs = tuple(s for name in tracer.input_names for s in tracer.leaves[name].flat if s in read)
    targets = tuple(s for s in target.flat if s in read)
    params = tuple(s for name, t in tracer.leaves.items() if name not in data for s in t.flat if s in read)
    values = {s.name: tracer.values[s.name] for s in inputs + targets + params}
    loss = Loss(loss_name, lambda outs, ys: body, loss_name)
    latex = {s.name: _latex_name(s.name) for s in inputs + targets + params}
    latex.update({n.symbol.name: _latex_name(n.symbol.name) for n in built})
    return Network((), inputs, tuple(built), targets, loss, FLAT, real("Loss"), origin=f"{title} (PyTorch)",
                   order=tuple(s.name for s in params), latex_names=latex, values=values)


def _latex_name(name: str) -> str:
    """``fc1.weight[1,0]`` as ``\\mathrm{fc1.weight}_{1,0}``."""
    base, _, rest = name.partition("[")
    base = base.replace("_", r"\_")
    return rf"\mathrm{{{base}}}" + (f"_{{{rest.rstrip(']')}}}" if rest else "")


# --- a user's Python file -------------------------------------------------------------------------

def load_torch(spec: str) -> tuple:
    """``FILE.py:NAME``: run the user's own file and call ``NAME()``, which returns (model, inputs, loss, target)."""
    import importlib.util
    from pathlib import Path

    path, colon, name = spec.rpartition(":")
    if not colon or not path.endswith(".py") or not name.isidentifier():
        raise TorchModelError(f"--torch {spec[:80]!r}: write FILE.py:NAME, where NAME() returns (model, inputs, loss, target)")
    if not Path(path).is_file():
        raise TorchModelError(f"--torch {spec[:80]}: no file {path}")
    need_torch()
    module_spec = importlib.util.spec_from_file_location(f"derivchain_torch_{Path(path).stem}", path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)  # the user's own code, run as Python runs it
        if not callable(getattr(module, name, None)):
            raise TorchModelError(f"--torch {spec[:80]}: {path} defines no function {name}")
        built = getattr(module, name)()
    except TorchModelError:
        raise
    except Exception as exc:
        first = (str(exc).splitlines() or [""])[0][:160]
        raise TorchModelError(f"--torch {spec[:80]}: running {path} raised {type(exc).__name__}: {first}") from None
    if not isinstance(built, (tuple, list)) or len(built) != 4:
        raise TorchModelError(f"--torch {spec[:80]}: {name}() must return (model, inputs, loss, target), "
                              f"not {type(built).__name__}")
    return tuple(built)


def torch_network(spec: str) -> tuple[Network, tuple]:
    """The network traced from ``FILE.py:NAME``, and what ``NAME()`` returned (model, inputs, loss, target)."""
    model, inputs, loss, target = built = load_torch(spec)
    from pathlib import Path

    name = f"{Path(spec.rpartition(':')[0]).name}:{spec.rpartition(':')[2]}"
    return from_torch(model, inputs, loss=loss, target=target, name=name), built
