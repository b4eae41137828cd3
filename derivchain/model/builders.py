"""Built-in graphs made without writing a file: an unrolled RNN and a 1-D convolution (shared weights), and
the matrix graphs of self-attention, layer normalisation and batch normalisation.

``--network rnn:steps=10,hidden=4``, ``--network conv1d:length=6,kernel=3``, ``--network
attention:tokens=3,dim=4``, ``--network layernorm:n=3`` and ``--network batchnorm:batch=3`` name them on the
command line; each builder writes the same description a network file would hold and builds it with
:func:`derivchain.model.network_file.build_network`, so a built graph is validated like a file.
"""

from __future__ import annotations

from ..errors import NetworkFileError
from .network_file import build_network
from .network import Network
from .. import limits


def rnn(steps: int = 3, hidden: int = 1, activation: str = "tanh", loss: str = "half-squared") -> Network:
    """An Elman RNN unrolled over ``steps`` time steps, one input per step, output at the last step.

    h_t = f(W x_t + U h_(t-1) + b) with h_0 = 0 (so h_1 has no recurrent term), Out = V h_T + c. The
    same W, U, b (and, with several hidden units, the same matrices) are used at every step.
    """
    _check(steps, "steps", 1)
    _check(hidden, "hidden", 1)
    one = hidden == 1
    h = (lambda t, j: f"h{t}") if one else (lambda t, j: f"h{t}_{j}")
    W = (lambda j: "W") if one else (lambda j: f"W_{j}")
    U = (lambda j, k: "U") if one else (lambda j, k: f"U_{j}_{k}")
    b = (lambda j: "b") if one else (lambda j: f"b_{j}")
    V = (lambda j: "V") if one else (lambda j: f"V_{j}")
    neurons = []
    for t in range(1, steps + 1):
        for j in range(1, hidden + 1):
            edges = {f"x{t}": W(j)}
            if t > 1:
                edges.update({h(t - 1, k): U(j, k) for k in range(1, hidden + 1)})
            neurons.append({"name": h(t, j), "inputs": edges, "bias": b(j), "activation": activation})
    neurons.append({"name": "Out", "inputs": {h(steps, j): V(j) for j in range(1, hidden + 1)}, "bias": "c",
                    "activation": "identity", "output": True})
    data = {"name": f"Elman RNN unrolled over {steps} steps, {hidden} hidden unit{'s' if hidden > 1 else ''}",
            "inputs": [f"x{t}" for t in range(1, steps + 1)], "loss": loss, "targets": ["Y"], "neurons": neurons}
    return build_network(data, f"rnn:steps={steps},hidden={hidden}")


def conv1d(length: int = 5, kernel: int = 3, activation: str = "identity", loss: str = "half-squared") -> Network:
    """A 1-D convolution (valid, stride 1, one channel) of ``length`` inputs with one shared kernel
    k1..kK and bias c; every output position o_i is an output with its target y_i."""
    _check(kernel, "kernel", 1)
    _check(length, "length", kernel)
    n = length - kernel + 1
    limits.check("the number of outputs", n, "outputs", f"conv1d:length={length},kernel={kernel}")  # before building them
    limits.check("the number of connections", n * kernel, "connections", f"conv1d:length={length},kernel={kernel}")
    neurons = [{"name": f"o{i}", "inputs": {f"x{i + j - 1}": f"k{j}" for j in range(1, kernel + 1)}, "bias": "c",
                "activation": activation, "output": True} for i in range(1, n + 1)]
    data = {"name": f"1-D convolution, kernel {kernel}",
            "inputs": [f"x{i}" for i in range(1, length + 1)], "loss": loss,
            "targets": [f"y{i}" for i in range(1, n + 1)], "neurons": neurons}
    return build_network(data, f"conv1d:length={length},kernel={kernel}")


def attention(tokens: int = 3, dim: int = 4) -> Network:
    """Scaled single-head self-attention, a matrix graph: input X (tokens x dim), parameters WQ, WK, WV
    (dim x dim), target T; Q = X @ WQ, K = X @ WK, V = X @ WV, S = Q @ K.T / sqrt(dim),
    P = softmax(S, axis=1), A = P @ V, loss sum((A - T)**2)/2."""
    _check(tokens, "tokens", 1)
    _check(dim, "dim", 1)
    data = {"name": f"scaled self-attention, {tokens} tokens in {dim} dimensions", "inputs": ["X"], "targets": ["T"],
            "loss": "sum((A - T)**2)/2",
            "shapes": {"X": [tokens, dim], "WQ": [dim, dim], "WK": [dim, dim], "WV": [dim, dim], "T": [tokens, dim]},
            "nodes": [{"name": "Q", "expr": "X @ WQ"}, {"name": "K", "expr": "X @ WK"}, {"name": "V", "expr": "X @ WV"},
                      {"name": "S", "expr": f"Q @ K.T / sqrt({dim})"}, {"name": "P", "expr": "softmax(S, axis=1)"},
                      {"name": "A", "expr": "P @ V"}]}
    return build_network(data, f"attention:tokens={tokens},dim={dim}")


#: The eps of layer and batch normalisation, as PyTorch's default: a constant written into the graph.
EPS = "1/100000"


def layernorm(n: int = 3) -> Network:
    """Layer normalisation of one sample's ``n`` features (a 1 x n row): mu = mean(X, axis=1),
    C = X - mu, var = mean(C**2, axis=1), Xhat = C / sqrt(var + eps), Y = gamma * Xhat + beta
    (gamma, beta: 1 x n parameters), loss sum((Y - T)**2)/2."""
    _check(n, "n", 1)
    data = {"name": f"layer normalisation of {n} features", "inputs": ["X"], "targets": ["T"],
            "loss": "sum((Y - T)**2)/2",
            "shapes": {"X": [1, n], "gamma": [1, n], "beta": [1, n], "T": [1, n]},
            "nodes": _normalise(1, EPS)}
    return build_network(data, f"layernorm:n={n}")


def batchnorm(batch: int = 3, features: int = 2) -> Network:
    """Batch normalisation (training mode) of ``batch`` samples, one per row, ``features`` columns: each
    column normalised over the batch, mu = mean(X, axis=0), var = mean(C**2, axis=0) (biased, as in
    training), Xhat = C / sqrt(var + eps), Y = gamma * Xhat + beta, loss sum((Y - T)**2)/2."""
    _check(batch, "batch", 1)
    _check(features, "features", 1)
    data = {"name": f"batch normalisation of {batch} samples, {features} feature{'s' if features > 1 else ''}",
            "inputs": ["X"], "targets": ["T"], "loss": "sum((Y - T)**2)/2",
            "shapes": {"X": [batch, features], "gamma": [1, features], "beta": [1, features], "T": [batch, features]},
            "nodes": _normalise(0, EPS)}
    return build_network(data, f"batchnorm:batch={batch},features={features}")


def _normalise(axis: int, eps: str) -> list[dict]:
    return [{"name": "mu", "expr": f"mean(X, axis={axis})"}, {"name": "C", "expr": "X - mu"},
            {"name": "var", "expr": f"mean(C**2, axis={axis})"}, {"name": "Xhat", "expr": f"C / sqrt(var + {eps})"},
            {"name": "Y", "expr": "gamma * Xhat + beta"}]


BUILDERS = {"rnn": rnn, "conv1d": conv1d, "attention": attention, "layernorm": layernorm, "batchnorm": batchnorm}
_INTS = {"steps", "hidden", "length", "kernel", "tokens", "dim", "n", "batch", "features"}


def build(spec: str) -> Network:
    """A built graph from ``rnn:steps=10,hidden=4`` or ``conv1d:length=6,kernel=3`` (keys optional)."""
    name, _, rest = spec.partition(":")
    if name not in BUILDERS:
        raise NetworkFileError(f"{spec[:40]!r}: unknown builder; use rnn:steps=T,hidden=H, conv1d:length=N,kernel=K, "
                               "attention:tokens=T,dim=D, layernorm:n=N or batchnorm:batch=B,features=F")
    import inspect

    allowed = list(inspect.signature(BUILDERS[name]).parameters)
    kwargs: dict = {}
    for part in filter(None, rest.split(",")):
        key, eq, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or key not in allowed:
            raise NetworkFileError(f"{name}: {part.strip()[:40]!r} is not key=value with a key among {', '.join(allowed)}")
        if key in _INTS:
            if not (value.isascii() and value.isdigit()) or len(value) > 6:
                raise NetworkFileError(f"{name}: {key}={value[:20]!r} is not a whole number")
            kwargs[key] = int(value)
        else:
            kwargs[key] = value
    return BUILDERS[name](**kwargs)


def _check(value: int, what: str, least: int) -> None:
    if value < least:
        raise NetworkFileError(f"{what}={value}: give at least {least}")
    limits.check(f"{what}", value, "neurons", f"{what}={value}")
