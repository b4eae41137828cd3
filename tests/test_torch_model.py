"""A PyTorch model traced into a network (model/torch_model.py): every supported module, function and loss,
each traced network's verified gradients agreeing with the model's own autograd to 1e-12 in float64.

Skipped cleanly when torch is absent, like tests/test_crosscheck*.py.
"""

import os

import pytest

if os.environ.get("CI"):
    import torch
else:
    torch = pytest.importorskip("torch")
from torch import nn
import torch.nn.functional as F

import derivchain as dc
from derivchain.errors import DerivchainError
from derivchain.model.torch_model import TorchModelError, from_torch
from derivchain.verification.autograd import compare_autograd
from derivchain.verification.derivation import derive


def seeded(seed=0):
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def agree(model, x, loss, target):
    net = from_torch(model, x, loss=loss, target=target)
    result = compare_autograd(net, model, x, loss, target)
    assert result.entries, "no parameter entry compared"
    bad = [e for e in result.entries if not e.agree]
    assert not bad, bad[:3]
    assert result.all_agree and result.first_disagreement is None
    assert abs(result.loss_derivchain - result.loss_autograd) <= 1e-12 * max(1.0, abs(result.loss_autograd))
    return net, result


def x_of(*shape):
    return torch.randn(*shape, dtype=torch.float64)


MODULES = {
    "relu": lambda: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)),
    "leaky_relu": lambda: nn.Sequential(nn.Linear(3, 4), nn.LeakyReLU(0.2), nn.Linear(4, 2)),
    "sigmoid": lambda: nn.Sequential(nn.Linear(3, 3), nn.Sigmoid(), nn.Linear(3, 2)),
    "tanh": lambda: nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Identity(), nn.Linear(3, 2)),
    "softmax": lambda: nn.Sequential(nn.Linear(3, 3), nn.Softmax(dim=1), nn.Linear(3, 2)),
    "log_softmax": lambda: nn.Sequential(nn.Linear(3, 3), nn.LogSoftmax(dim=1), nn.Linear(3, 2)),
    "flatten": lambda: nn.Sequential(nn.Flatten(), nn.Linear(3, 2)),
    "conv1d": lambda: nn.Sequential(nn.Conv1d(2, 2, 2), nn.ReLU(), nn.Flatten(), nn.Linear(4, 2)),
    "conv2d": lambda: nn.Sequential(nn.Conv2d(1, 2, 2, padding=1, stride=2), nn.Tanh(), nn.Flatten(), nn.Linear(8, 2)),
}
INPUTS = {"conv1d": (2, 2, 3), "conv2d": (2, 1, 3, 3)}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_agrees_with_autograd(name):
    seeded(1)
    model = MODULES[name]().double()
    x = x_of(*INPUTS.get(name, (2, 3)))
    agree(model, x, nn.MSELoss(), x_of(2, 2))


LOSSES = {
    "MSELoss": (nn.MSELoss(), lambda: x_of(2, 2)),
    "MSELoss-sum": (nn.MSELoss(reduction="sum"), lambda: x_of(2, 2)),
    "L1Loss": (nn.L1Loss(), lambda: x_of(2, 2)),
    "BCELoss": (nn.BCELoss(), lambda: torch.rand(2, 2, dtype=torch.float64)),
    "BCEWithLogitsLoss": (nn.BCEWithLogitsLoss(), lambda: torch.rand(2, 2, dtype=torch.float64)),
    "CrossEntropyLoss": (nn.CrossEntropyLoss(), lambda: torch.tensor([1, 0])),
    "CrossEntropyLoss-sum": (nn.CrossEntropyLoss(reduction="sum"), lambda: torch.tensor([1, 1])),
    "CrossEntropyLoss-probabilities": (nn.CrossEntropyLoss(), lambda: torch.softmax(x_of(2, 2), 1)),
    "NLLLoss": (nn.NLLLoss(), lambda: torch.tensor([0, 1])),
    "F.mse_loss": (F.mse_loss, lambda: x_of(2, 2)),
}


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_loss_agrees_with_autograd(name):
    seeded(2)
    loss, target = LOSSES[name]
    head = [nn.Sigmoid()] if name == "BCELoss" else [nn.LogSoftmax(dim=1)] if name == "NLLLoss" else []
    model = nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 2), *head).double()
    agree(model, x_of(2, 3), loss, target())


class Functional(nn.Module):
    """F. forms, +, *, @, a parameter read twice and a reused tensor."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 3)
        self.fc2 = nn.Linear(3, 2)
        self.scale = nn.Parameter(torch.tensor([0.5, -1.5, 2.0]))

    def forward(self, x):
        h = F.relu(self.fc1(x))
        g = torch.sigmoid(h) * self.scale + h  # h reused
        g = F.leaky_relu(g, 0.1) + torch.tanh(self.fc1(g))  # fc1 applied twice: its entries one symbol each
        return F.log_softmax(self.fc2(g), dim=1) + (x @ self.fc1.weight.t()).sum(dim=1, keepdim=True)


def test_functional_forms_and_shared_weights():
    seeded(3)
    model = Functional().double()
    net, _ = agree(model, x_of(2, 3), nn.MSELoss(), x_of(2, 2))
    names = [p.name for p in net.parameters]
    assert len(names) == len(set(names)) == 3 * 3 + 3 + 3 * 2 + 2 + 3
    assert net.parameter("fc1.weight[1,0]") in net.shared


class Tied(nn.Module):
    """An autoencoder whose decoder is the encoder's weight transposed."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(4, 2)
        self.bias = nn.Parameter(torch.zeros(4))

    def forward(self, x):
        return F.linear(torch.sigmoid(self.enc(x)), self.enc.weight.t(), self.bias)


def test_tied_weights_are_one_symbol():
    seeded(4)
    model = Tied().double()
    x = x_of(3, 4)
    net, result = agree(model, x, nn.MSELoss(), x)
    assert [e.parameter for e in result.entries][:2] == ["enc.weight[0,0]", "enc.weight[0,1]"]
    assert len(result.entries) == 8 + 2 + 4


def test_names_values_and_pytorch_conventions():
    seeded(5)
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)).double()
    with torch.no_grad():
        model[0].weight[1, 0] = 0.1  # stored (out, in): row 1 is hidden unit 1, column 0 reads x[.,0]
    x = x_of(2, 2)
    net = from_torch(model, x, loss=nn.MSELoss(), target=x_of(2, 1))
    from fractions import Fraction

    assert net.values["0.weight[1,0]"] == Fraction(0.1) != Fraction(1, 10)  # the float's exact value
    assert net.values["x[1,0]"] == Fraction(x[1, 0].item())
    assert "0.bias[2]" in net.values and "target[1,0]" in net.values
    node = next(n for n in net.neurons if n.name == "out0[0,1]")
    assert node.equation.coeff(net.parameter("0.weight[1,0]")) == net.parameter("x[0,0]")
    # MSELoss averages over every element: 2 samples x 1 output
    assert "/2" in str(net.loss_local)


def test_relu_at_zero_is_zero_as_in_pytorch():
    model = nn.Sequential(nn.Linear(1, 1), nn.ReLU()).double()
    with torch.no_grad():
        model[0].weight.fill_(1.0)
        model[0].bias.fill_(0.0)
    x = torch.zeros(1, 1, dtype=torch.float64)  # z = 0 exactly
    net, result = agree(model, x, nn.MSELoss(), torch.ones(1, 1, dtype=torch.float64))
    assert all(e.autograd == 0 == e.derivchain for e in result.entries)


class Wrong(torch.autograd.Function):
    """x**3 with a hand-written backward that forgets the 3."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x ** 2


class WithWrong(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)

    def forward(self, x):
        return Wrong.apply(self.fc(x))


def test_a_wrong_custom_backward_is_caught():
    seeded(6)
    model = WithWrong().double()
    x, target = x_of(2, 2), x_of(2, 2)
    net = from_torch(model, x, loss=nn.MSELoss(), target=target)
    result = compare_autograd(net, model, x, nn.MSELoss(), target)
    assert not result.all_agree
    assert result.first_disagreement == "fc.weight[0,0]"
    wrong = result.entries[0]
    assert abs(wrong.derivchain / wrong.autograd - 3) < 1e-9  # the forgotten factor 3
    assert result.first is not None and str(result.first.parameter) == "fc.weight[0,0]"
    assert result.first.path_count >= 1 and result.first.verdict.equal


class Unknown(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
        self.norm = nn.BatchNorm1d(2)

    def forward(self, x):
        return torch.sin(self.norm(self.fc(x)))


def test_unsupported_module_is_one_line_naming_it():
    model = Unknown().double()
    with pytest.raises(TorchModelError) as info:
        from_torch(model, x_of(2, 2), loss=nn.MSELoss(), target=x_of(2, 2))
    message = str(info.value)
    assert "BatchNorm1d" in message and "'norm'" in message and "\n" not in message
    assert isinstance(info.value, DerivchainError)


def test_unsupported_function_and_loss_are_named():
    class Sin(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            return torch.sin(self.fc(x))

    with pytest.raises(TorchModelError, match="sin"):
        from_torch(Sin().double(), x_of(2, 2), loss=nn.MSELoss(), target=x_of(2, 2))
    with pytest.raises(TorchModelError, match="HuberLoss"):
        from_torch(nn.Linear(2, 2).double(), x_of(2, 2), loss=nn.HuberLoss(), target=x_of(2, 2))


class Branchy(nn.Module):
    """Control flow on a shape: torch.fx cannot trace it, torch.export can."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)

    def forward(self, x):
        h = self.fc(x)
        if x.shape[0] > 1:  # fx's proxies have no shape to compare; export specialises on it
            h = torch.relu(h)
        return h


def test_export_where_fx_fails():
    seeded(7)
    model = Branchy().double()
    agree(model, x_of(2, 2), nn.MSELoss(), x_of(2, 2))


def test_network_works_with_every_api_function():
    seeded(8)
    model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1)).double()
    x, target = x_of(2, 2), x_of(2, 1)
    net = dc.from_torch(model, x, loss=nn.MSELoss(), target=target)
    at = dc.api.grad(net, "2.weight[0,1]")  # values=None: the model's values
    assert at.kind == "derivation_at_values"
    model.zero_grad()
    nn.MSELoss()(model(x), target).backward()
    assert abs(float(at.backprop.value) - model[2].weight.grad[0, 1].item()) < 1e-12
    overridden = dc.api.grad(net, "2.weight[0,1]", values={"2.bias[0]": 5})
    assert float(overridden.backprop.value) != float(at.backprop.value)
    rows = list(dc.api.table(net).rows)
    assert len(rows) == len(net.parameters) and all(r.verdict.equal for r in rows)
    descent = dc.api.step(net, None)
    assert descent.kind == "descent"


def test_an_unsupported_function_names_the_module_it_is_in():
    class Inner(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

        def forward(self, x):
            return torch.sin(self.fc(x))

    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(nn.Linear(2, 2), Inner())

        def forward(self, x):
            return self.encoder(x)

    with pytest.raises(TorchModelError, match=r"the operation sin \(sin in module 'encoder\.1'\) is not supported"):
        from_torch(Outer().double(), x_of(1, 2), loss=nn.MSELoss(), target=x_of(1, 2))


def test_export_hessian_on_a_traced_model_uses_its_values(tmp_path):
    # export --torch --hessian wrote the section without numbers, and --set with it said "values: missing x[0,0]..."
    from derivchain import api

    here = os.path.dirname(os.path.abspath(__file__))
    net = api.network(torch=os.path.join(here, "..", "examples", "torch", "autoencoder.py") + ":build")
    out = tmp_path / "notes.md"
    api.export(net, ["dec_bias[0]"], str(out), hessian=["enc.weight[0,0],dec_bias[0]"], brief=True)
    assert "At the given values:" in out.read_text(encoding="utf-8")
    again = tmp_path / "set.md"
    api.export(net, ["dec_bias[0]"], str(again), hessian=["enc.weight[0,0],dec_bias[0]"], brief=True,
               values={"dec_bias[0]": 0.5})
    assert "At the given values:" in again.read_text(encoding="utf-8")


def test_a_batch_weights_direct_form_shares_each_neurons_dloss_dz(monkeypatch):
    # Issue 25's benchmark: a weight of a traced nn.Linear is read by one neuron per batch row. Its direct form
    # is the sum over those neurons of dz/dw * dLoss/dz, each dLoss/dz one object per neuron for every weight
    # into it: the full loss is differentiated once per neuron, not once per weight (before: once per weight).
    # Every weight's three forms are still verified, and the shared form equals the per-weight derivative.
    import derivchain.engines.direct as dd
    import derivchain.symbolic.walk as walk
    from derivchain import memo
    from derivchain.verification.compare import verify

    seeded(11)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).double()
    x, target = x_of(3, 3), torch.tensor([0, 1, 1])
    net = from_torch(model, x, loss=nn.CrossEntropyLoss(), target=target)
    monkeypatch.setattr(dd, "SHARED_ABOVE", 0)
    calls = []
    differentiate = walk.differentiate
    monkeypatch.setattr(dd, "differentiate", lambda e, *a: (calls.append(e is net.loss_full), differentiate(e, *a))[1])
    row = [net.parameter(f"0.weight[1,{r}]") for r in range(3)] + [net.parameter("0.bias[1]")]
    forms = [dd.direct(net, w) for w in row]
    uses = net.uses[row[0]]
    assert len(uses) == 3  # one neuron per batch row
    for f in forms:
        assert f.compared.is_Add and len(f.compared.args) == len(uses)
    assert len(net.memos[memo.DIRECT_BY_NODE]) == 3  # dLoss/dz: one per neuron, shared by its 4 parameters
    assert sum(calls) == len(uses)  # the full loss differentiated once per neuron
    for w, f in zip(row, forms):
        assert verify({"shared": f.compared, "per weight": f.value}).equal
        d = derive(net, w)
        assert d.verdict.equal and d.checked


def test_tied_weights_keep_the_per_weight_direct_form(monkeypatch):
    # A tied weight is read inside the encoder's z's and the decoder's, one inside the other: the sum over uses
    # would count the inner one twice, so its direct form stays the loss differentiated with respect to it.
    import derivchain.engines.direct as dd

    seeded(4)
    model = Tied().double()
    x = x_of(3, 4)
    net = from_torch(model, x, loss=nn.MSELoss(), target=x)
    monkeypatch.setattr(dd, "SHARED_ABOVE", 0)
    w = net.parameter("enc.weight[0,0]")
    assert len(net.uses[w]) > 3
    f = dd.direct(net, w)
    assert f.compared is f.value
    assert derive(net, w).verdict.equal


def test_a_linear_weight_and_bias_have_their_matrix_form():
    # grad 0.weight on a traced model: dL/dW = dL/dout.T @ x (nn.Linear stores W as (out, in)) and dL/db =
    # sum(dL/dout, axis=0), each entry checked equal to the entry's scalar derivation, and every entry's
    # direct derivative equal to its backpropagation; at the model's values equal to autograd's .grad.
    from derivchain import api

    seeded(12)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    x, target = x_of(3, 3), torch.tensor([1, 0, 1])
    net = from_torch(model, x, loss=nn.CrossEntropyLoss(), target=target)
    model.zero_grad()
    nn.CrossEntropyLoss()(model(x), target).backward()
    for name, form, grad in (("0.weight", "dL/dout0.T @ x", model[0].weight.grad), ("2.weight", "dL/dout2.T @ out1", model[2].weight.grad),
                             ("0.bias", "sum(dL/dout0, axis=0)", model[0].bias.grad.reshape(1, -1))):
        g = api.grad(net, name)
        assert g.kind == "matrix_gradient" and g.verified and g.entries.checked == grad.numel()
        assert g.shape == tuple(grad.shape) and [e.form for e in g.chain] == [form]
        for i, row in enumerate(g.at_values):
            for j, number in enumerate(row):
                assert abs(float(number) - grad[i, j].item()) <= 1e-12 * max(1.0, grad.abs().max().item())
        one = api.grad(net, f"{name}[1,2]" if grad.shape[0] > 1 else f"{name}[2]")
        assert abs(float(one.backprop.value) - float(g.at_values[1 if grad.shape[0] > 1 else 0][2])) < 1e-15


def test_a_wrong_matrix_form_is_not_verified(monkeypatch):
    # The check is real: a form twice the gradient is NOT verified (entry by entry against the scalar derivation).
    from derivchain import api
    from derivchain.verification import torch_matrix

    seeded(13)
    model = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid(), nn.Linear(3, 1)).double()
    net = from_torch(model, x_of(2, 2), loss=nn.MSELoss(), target=x_of(2, 1))
    assert api.grad(net, "0.weight").verified
    monkeypatch.setattr(torch_matrix.LinearLayer, "form", property(lambda self: f"2 * dL_d{self.output}.T @ {self.input_name}"))
    wrong = api.grad(net, "0.weight")
    assert not wrong.verified and not wrong.chain[0].verified


def test_a_parameter_without_a_matrix_form_says_why():
    from derivchain import api

    seeded(14)
    cnn = nn.Sequential(nn.Conv2d(1, 2, 2), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2)).double()
    x = x_of(2, 1, 3, 3)
    net = from_torch(cnn, x, loss=nn.MSELoss(), target=x_of(2, 2))
    with pytest.raises(DerivchainError, match=r"0\.weight is 4-D .*name one entry, 0\.weight\[0,0,0,0\] to 0\.weight\[1,0,1,1\]"):
        api.grad(net, "0.weight")
    g = api.grad(net, "3.weight")  # the Linear after Flatten: its input is the flattened convolution's entries
    assert g.verified and g.chain[0].form == "dL/dout3.T @ input_out3"
    tied = from_torch(Tied().double(), x_of(3, 4), loss=nn.MSELoss(), target=x_of(3, 4))
    with pytest.raises(DerivchainError, match=r"enc\.weight is read outside one linear layer"):
        api.grad(tied, "enc.weight")
    assert api.grad(tied, "bias").verified  # the decoder's own bias: its column sums


def test_grad_of_a_whole_weight_on_the_command_line_keeps_the_matrix_graph_json_keys():
    import json

    from typer.testing import CliRunner

    from derivchain.cli import app

    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples")
    traced = CliRunner().invoke(app, ["grad", "0.weight", "--torch", os.path.join(here, "torch", "mlp.py") + ":build",
                                      "--format", "json"])
    graph = CliRunner().invoke(app, ["grad", "W1", "--network", os.path.join(here, "two_layer_batch.toml"), "--format", "json",
                                     "--values", os.path.join(here, "two_layer_batch_values.json")])
    assert traced.exit_code == 0 and graph.exit_code == 0, (traced.output[-300:], graph.output[-300:])
    a, b = json.loads(traced.output), json.loads(graph.output)
    assert set(a) == set(b) and set(a["chain"][0]) == set(b["chain"][0]) and a["verified"] is True
    assert a["shape"] == [5, 4] and a["form"] == "dL/dout0.T @ x"
    text = CliRunner().invoke(app, ["grad", "0.weight", "--torch", os.path.join(here, "torch", "mlp.py") + ":build"]).output
    assert "Verified: the equation equals the scalar derivation" in text  # one equation, not "each of the 1 equations"


def test_table_text_columns_fit_the_longest_name():
    # derivchain table --torch: the name column was 10 wide and 0.weight[0,0] 13: each row pushed right of the header
    from typer.testing import CliRunner

    from derivchain.cli import app

    out = CliRunner().invoke(app, ["table", "--torch", "examples/torch/mlp.py:build"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    head = next(i for i, x in enumerate(lines) if x.startswith("parameter"))
    rows = lines[head:]
    assert len(rows) == 1 + 55
    for column in ("paths", "verdict", "method", "gradient"):
        at = rows[0].index(column)
        end = at + len(column)
        if column == "paths":  # right-aligned: every count ends where the title ends
            assert all(x[end - 1].isdigit() and x[end] == " " for x in rows[1:]), column
        else:  # left-aligned: every cell starts where the title starts, after a space
            assert all(x[at - 1] == " " and x[at] != " " for x in rows[1:]), column


def test_an_unsupported_module_names_a_fix_and_dropout_in_eval_mode_is_traced():
    # BatchNorm1d, Dropout and GELU gave one line naming the module and no way on; the supported list left out
    # exp, log, squeeze and unsqueeze, which forward may call
    def net(layer):
        seeded(0)
        return nn.Sequential(nn.Linear(2, 3), layer, nn.Linear(3, 1)).double()

    fixes = {"BatchNorm1d": "fold it", "Dropout": "model.eval()", "GELU": "torch.sigmoid(1.702 * x)"}
    for layer in (nn.BatchNorm1d(3), nn.Dropout(0.5), nn.GELU()):
        with pytest.raises(TorchModelError) as info:
            from_torch(net(layer), x_of(3, 2), loss=nn.MSELoss(), target=x_of(3, 1))
        message = str(info.value)
        name = type(layer).__name__
        assert name in message and fixes[name] in message and "docs/torch.md" in message and "\n" not in message
        assert all(word in message for word in ("exp", "log", "squeeze", "unsqueeze")), message
    # the fix named for Dropout holds: in eval mode it is the identity, and the gradients agree with autograd
    model = net(nn.Dropout(0.5)).eval()
    agree(model, x_of(3, 2), nn.MSELoss(), x_of(3, 1))

    class Approx(nn.Module):  # the approximation the GELU line names, written in forward: traced and agreeing
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(2, 3), nn.Linear(3, 1)

        def forward(self, x):
            h = self.a(x)
            return self.b(h * torch.sigmoid(1.702 * h))

    seeded(1)
    agree(Approx().double(), x_of(3, 2), nn.MSELoss(), x_of(3, 1))
