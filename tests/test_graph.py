"""ember.autograd.graph: dot text, text tree and rendering of the backward graph.

The graph's shape is checked against PyTorch's own graph (``grad_fn.next_functions``) for the
same expressions; rendering runs the real Graphviz ``dot`` program (CI: apt-get install -y
graphviz)."""
from __future__ import annotations

import io
import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter

import numpy as np
import pytest
import torch

import ember
from ember.autograd import graph
from ember.nn import Module, Parameter

NODE = re.compile(r'^\s*(\w+) \[label="((?:[^"\\]|\\.)*)"(?:, fillcolor=(\w+))?\];$')
EDGE = re.compile(r'^\s*(\w+) -> (\w+)(?: \[label="((?:[^"\\]|\\.)*)"\])?;$')


def parse(dot: str):
    """nodes: id -> (label, colour); edges: list of (src, dst, label)."""
    nodes, edges = {}, []
    for line in dot.splitlines():
        if m := EDGE.match(line):
            edges.append((m[1], m[2], m[3]))
        elif m := NODE.match(line):
            nodes[m[1]] = (m[2].replace("\\n", "\n"), m[3])
    return nodes, edges


def labelled_edges(dot: str) -> Counter:
    nodes, edges = parse(dot)
    return Counter((nodes[s][0], nodes[d][0]) for s, d, _ in edges)


def ember_signatures(dot: str) -> Counter:
    """Canonical form: leaves by name, ops by the multiset of their inputs' forms."""
    nodes, edges = parse(dot)
    inputs: dict = {n: [] for n in nodes}
    for s, d, _ in edges:
        inputs[d].append(s)
    return _signatures(nodes, inputs, lambda n: nodes[n][1] == "lightblue",
                       lambda n: nodes[n][0].split("\n")[0], lambda n: n.startswith("out"))


def torch_signatures(outputs, names: dict) -> Counter:
    nodes, inputs, stack = [], {}, [o.grad_fn for o in outputs]
    while stack:
        n = stack.pop()
        if n in inputs:
            continue
        nodes.append(n)
        inputs[n] = [e[0] for e in n.next_functions if e[0] is not None]
        stack.extend(inputs[n])
    for i, o in enumerate(outputs):  # output markers, as in the dot text
        inputs[f"out{i}"] = [o.grad_fn]
    is_leaf = lambda n: type(n).__name__ == "AccumulateGrad"
    return _signatures(inputs, inputs, is_leaf,
                       lambda n: names.get(id(n.variable), "leaf"),
                       lambda n: isinstance(n, str))


def _signatures(nodes, inputs, is_leaf, leaf_name, is_out) -> Counter:
    sig: dict = {}
    pending = list(nodes)
    while pending:  # iterate to a fixed point: fine for the small graphs used here
        rest = []
        for n in pending:
            if is_leaf(n):
                sig[n] = ("leaf", leaf_name(n))
            elif all(p in sig for p in inputs[n]):
                kind = "out" if is_out(n) else "op"
                sig[n] = (kind, tuple(sorted(sig[p] for p in inputs[n])))
            else:
                rest.append(n)
        assert len(rest) < len(pending), "cycle"
        pending = rest
    return Counter(sig.values())


def both(build, seed=0):
    """Run build(lib, x, w, b) in ember and torch on the same leaves."""
    rng = np.random.default_rng(seed)
    arrs = [rng.standard_normal(s).astype(np.float32) for s in ((2, 3), (3, 4), (4,))]
    e = [ember.tensor(a, requires_grad=True) for a in arrs]
    t = [torch.tensor(a, requires_grad=True) for a in arrs]
    names = ("x", "w", "b")
    return (build(ember, *e), dict(zip(names, e)), build(torch, *t),
            {id(v): k for k, v in zip(names, t)})


def _shared(h):
    return (h.exp() * h).sum() + h.mean()


EXPRESSIONS = {
    "linear": lambda lib, x, w, b: ((x @ w + b) ** 2).sum(),
    "shared": lambda lib, x, w, b: _shared(x @ w + b),
    "reused leaf": lambda lib, x, w, b: (x * x + lib.tanh(x)).sum(),
    "unused input": lambda lib, x, w, b: (b * 2).sum() + b.detach().sum(),
    "two outputs": lambda lib, x, w, b: [lib.tanh(x @ w), (x @ w).sum(1)],
}


@pytest.mark.parametrize("name", list(EXPRESSIONS))
def test_graph_structure_matches_torch(name):
    e_out, e_params, t_out, t_names = both(EXPRESSIONS[name])
    outs = e_out if isinstance(e_out, list) else [e_out]
    touts = t_out if isinstance(t_out, list) else [t_out]
    dot = graph.to_dot(e_out, params=e_params)
    assert ember_signatures(dot) == torch_signatures(touts, t_names)
    _nodes, edges = parse(dot)
    t_edges = sum(len([e for e in n.next_functions if e[0] is not None])
                  for n in _torch_nodes(touts))
    assert len(edges) == t_edges + len(outs)


def _torch_nodes(outs):
    seen, stack = [], [o.grad_fn for o in outs]
    while stack:
        n = stack.pop()
        if n not in seen:
            seen.append(n)
            stack.extend(e[0] for e in n.next_functions if e[0] is not None)
    return seen


def test_small_expression_dot():
    x = ember.ones(3, requires_grad=True)
    w = ember.ones(3, requires_grad=True)
    b = ember.ones(3, requires_grad=True)
    y = (x * w + b).sum()
    dot = graph.to_dot(y, params={"x": x, "w": w, "b": b})
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    nodes, edges = parse(dot)
    assert sorted(label for label, _ in nodes.values()) == sorted(
        ["SumBackward", "AddBackward", "MulBackward", "x\n(3,)", "w\n(3,)", "b\n(3,)",
         "output\n()"])
    colours = {label: c for label, c in nodes.values()}
    assert colours["x\n(3,)"] == "lightblue" and colours["output\n()"] == "darkolivegreen1"
    # forward direction: inputs point at the ops that consumed them
    assert labelled_edges(dot) == Counter({
        ("x\n(3,)", "MulBackward"): 1, ("w\n(3,)", "MulBackward"): 1,
        ("MulBackward", "AddBackward"): 1, ("b\n(3,)", "AddBackward"): 1,
        ("AddBackward", "SumBackward"): 1, ("SumBackward", "output\n()"): 1})
    assert sorted(lbl for _, _, lbl in edges if lbl) == ["(3,)"] * 5


def test_shared_nodes_appear_once_and_shapes_can_be_hidden():
    x = ember.ones(2, 3, requires_grad=True)
    h = x.sum(0)                     # (3,), used three times
    y = (h * h + h).mean()
    dot = graph.to_dot(y, params={"x": x}, show_shapes=False)
    nodes, edges = parse(dot)
    labels = Counter(label for label, _ in nodes.values())
    assert labels["SumBackward"] == 1 and labels["x"] == 1
    assert labelled_edges(dot)[("SumBackward", "MulBackward")] == 2
    assert labelled_edges(dot)[("SumBackward", "AddBackward")] == 1
    assert all(lbl is None for _, _, lbl in edges) and "(3,)" not in dot


def test_names_from_module_parameters_and_unnamed_leaves():
    class Lin(Module):
        def __init__(self):
            super().__init__()
            self.weight = Parameter(ember.ones(4, 3))
            self.bias = Parameter(ember.zeros(4))

    class Net(Module):
        def __init__(self):
            super().__init__()
            self.fc = Lin()

        def forward(self, x):
            return x @ self.fc.weight.T + self.fc.bias

    net = Net()
    x = ember.ones(2, 3, requires_grad=True)
    const = ember.ones(2, 4)  # requires no grad: not part of the graph
    out = net(x) * const
    nodes, _ = parse(graph.to_dot(out, params=dict(net.named_parameters())))
    labels = {label for label, _ in nodes.values()}
    assert {"fc.weight\n(4, 3)", "fc.bias\n(4,)", "leaf\n(2, 3)"} <= labels
    assert sum(c == "lightblue" for _, c in nodes.values()) == 3
    with pytest.raises(TypeError, match="dict"):
        graph.to_dot(out, params=list(net.parameters()))


def test_outputs_without_graph_and_bad_input():
    t = ember.ones(2)
    nodes, edges = parse(graph.to_dot(t))
    assert list(nodes.values()) == [("output\n(2,)", "darkolivegreen1")] and edges == []
    leaf = ember.ones(2, requires_grad=True)
    nodes, edges = parse(graph.to_dot(leaf, params={"p": leaf}))
    assert sorted(lbl for lbl, _ in nodes.values()) == ["output\n(2,)", "p\n(2,)"]
    assert len(edges) == 1
    with pytest.raises(TypeError, match="Tensor"):
        graph.to_dot(np.ones(2))
    buf = io.StringIO()
    graph.print_graph(t, file=buf)
    assert buf.getvalue() == "tensor (2,) (requires_grad=False: no graph)\n"


def test_print_graph_tree():
    x = ember.ones(3, requires_grad=True)
    w = ember.ones(3, requires_grad=True)
    h = x * w
    y = (h + h.exp()).sum()
    buf = io.StringIO()
    graph.print_graph(y, params={"x": x, "w": w}, file=buf)
    assert buf.getvalue() == (
        "SumBackward ()\n"
        "└─ AddBackward (3,)\n"
        "   ├─ MulBackward (3,)\n"
        "   │  ├─ x (3,)\n"
        "   │  └─ w (3,)\n"
        "   └─ ExpBackward (3,)\n"
        "      └─ MulBackward (3,) (shown above)\n")
    buf = io.StringIO()
    graph.print_graph(y, show_shapes=False, max_depth=2, file=buf)
    assert buf.getvalue() == (
        "SumBackward\n"
        "└─ AddBackward\n"
        "   ├─ MulBackward\n"
        "   │  └─ ... (more levels: pass max_depth=None)\n"
        "   └─ ExpBackward\n"
        "      └─ ... (more levels: pass max_depth=None)\n")


def test_print_graph_defaults_to_stdout_and_multi_output_nodes(capsys):
    x = ember.ones(4, requires_grad=True)
    a, b = x.split(2)
    graph.print_graph([a * 2, b], params={"x": x})
    assert capsys.readouterr().out == (
        "MulBackward (2,)\n"
        "└─ SplitBackward[0] (2,)\n"
        "   └─ x (4,)\n"
        "SplitBackward[1] (2,) (shown above)\n")
    _nodes, edges = parse(graph.to_dot([a * 2, b]))
    assert ("[0] (2,)" in {lbl for _, _, lbl in edges})


def test_deep_chain_is_walked_iteratively():
    x = ember.ones(2, requires_grad=True)
    y = x
    for _ in range(20000):
        y = y * 1.0
    dot = graph.to_dot(y, params={"x": x})
    nodes, edges = parse(dot)
    assert len(nodes) == 20002 and len(edges) == 20001
    buf = io.StringIO()
    graph.print_graph(y, max_depth=10, file=buf)
    lines = buf.getvalue().splitlines()
    assert len(lines) == 12 and lines[-1].endswith("... (more levels: pass max_depth=None)")


def _expression():
    x = ember.ones(2, 3, requires_grad=True)
    w = ember.ones(3, requires_grad=True)
    return (x * w).sum(), {'x "in"': x, "w\\": w}  # names that need escaping in dot


def _check_svg(path, names):
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    texts = {el.text for el in root.iter() if el.tag.endswith("text")}
    assert {"SumBackward", "MulBackward", *names} <= texts


def test_draw_renders_svg(tmp_path):
    y, params = _expression()
    out = graph.draw(y, tmp_path / "g.svg", params=params)
    _check_svg(out, params)


def test_draw_with_dot_program_only(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # as if the Python package were absent
    y, params = _expression()
    _check_svg(graph.draw(y, str(tmp_path / "g.svg"), params=params), params)
    png = graph.draw(y, tmp_path / "g.png", format="png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_draw_without_graphviz_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)
    monkeypatch.setattr(graph.shutil, "which", lambda name: None)
    y, _ = _expression()
    with pytest.raises(RuntimeError, match=r"pip install 'ember\[viz\]'.*apt-get install graphviz"):
        graph.draw(y, tmp_path / "g.svg")
    assert not (tmp_path / "g.svg").exists()
