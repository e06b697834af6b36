"""Seeing the autograd graph: Graphviz dot source, a text tree, and rendering to a file.

The graph is the one ``backward()`` walks: op nodes are the ``grad_fn`` nodes (``MulBackward``),
leaf nodes are the tensors gradients accumulate into, labelled with their names from
``params`` (e.g. ``dict(model.named_parameters())``). Edges point the way the forward pass ran,
input to op to output. Walks are iterative, so 20,000-op chains are fine.

Example::

    y = (x * w).sum()
    print(to_dot(y, params={"x": x, "w": w}))   # dot source
    print_graph(y)                               # SumBackward / MulBackward / x, w
    draw(y, "graph.svg")                         # needs Graphviz (pip install 'ember[viz]')
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from .function import AccumulateGrad, Node
from .tensor import Tensor

__all__ = ["draw", "print_graph", "to_dot"]

_NOT_FOUND = ("draw() needs Graphviz to render: install the `graphviz` Python package "
              "(pip install 'ember[viz]') and the Graphviz programs (apt-get install graphviz, "
              "brew install graphviz, conda install graphviz), or render the text of to_dot() "
              "elsewhere")


def _outputs(output) -> list[Tensor]:
    outs = [output] if isinstance(output, Tensor) else list(output)
    for t in outs:
        if not isinstance(t, Tensor):
            raise TypeError(f"expected a Tensor or a sequence of Tensors, got {type(t).__name__}")
    return outs


def _shape(shape) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _names(params: Mapping[str, Tensor] | None) -> dict[int, str]:
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise TypeError("params must be a dict of name -> tensor, e.g. "
                        "dict(model.named_parameters())")
    return {id(t): name for name, t in params.items()}


def _leaf_label(node: AccumulateGrad, names: dict[int, str]) -> tuple[str, tuple | None]:
    leaf = node.variable
    if leaf is None:
        return "leaf", None  # the tensor was garbage-collected
    return names.get(id(leaf), "leaf"), tuple(leaf.shape)


def _walk(outs: Sequence[Tensor]) -> list[Node]:
    """Every node reachable from the outputs, each once, in depth-first discovery order."""
    order: list[Node] = []
    seen: set[int] = set()
    stack = [t.grad_fn if t.grad_fn is not None else t._edge()[0]
             for t in reversed(outs) if t.requires_grad]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        order.append(node)
        for e in reversed(node.next_edges):
            if e is not None and id(e[0]) not in seen:
                stack.append(e[0])
    return order


def _q(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(output: Tensor | Sequence[Tensor], params: Mapping[str, Tensor] | None = None,
           show_shapes: bool = True) -> str:
    """Graphviz dot source of the graph that produced ``output`` (a tensor or a sequence).

    Ops are grey boxes named after their ``grad_fn``; leaves are blue, named from ``params``
    (``"leaf"`` when unnamed) with their shape; outputs are green. With ``show_shapes`` every
    edge is labelled with the shape of the tensor that flowed along it.
    """
    outs = _outputs(output)
    names = _names(params)
    nodes = _walk(outs)
    ids = {id(n): f"n{i}" for i, n in enumerate(nodes)}
    lines = ["digraph autograd {",
             '    graph [rankdir=TB, fontname="Helvetica"];',
             ('    node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, '
             'fillcolor=lightgray];'),
             '    edge [fontname="Helvetica", fontsize=9];']
    for n in nodes:
        if isinstance(n, AccumulateGrad):
            name, shape = _leaf_label(n, names)
            label = name if shape is None or not show_shapes else f"{name}\n{_shape(shape)}"
            lines.append(f"    {ids[id(n)]} [label={_q(label)}, fillcolor=lightblue];")
        else:
            lines.append(f"    {ids[id(n)]} [label={_q(n.name)}];")
    for i, t in enumerate(outs):
        label = "output" if len(outs) == 1 else f"output {i}"
        if show_shapes:
            label += "\n" + _shape(t.shape)
        lines.append(f"    out{i} [label={_q(label)}, fillcolor=darkolivegreen1];")
    for n in nodes:
        for e, meta in zip(n.next_edges, n.in_meta):
            if e is None:
                continue
            parent, nr = e
            attrs = []
            label = f"[{nr}] " if parent.n_outputs > 1 else ""
            if show_shapes and meta is not None:
                label += _shape(meta[0])
            if label:
                attrs.append(f"label={_q(label.strip())}")
            tail = f" [{', '.join(attrs)}]" if attrs else ""
            lines.append(f"    {ids[id(parent)]} -> {ids[id(n)]}{tail};")
    for i, t in enumerate(outs):
        if t.requires_grad:
            src = t.grad_fn if t.grad_fn is not None else t._edge()[0]
            lines.append(f"    {ids[id(src)]} -> out{i};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def print_graph(output: Tensor | Sequence[Tensor], params: Mapping[str, Tensor] | None = None,
                show_shapes: bool = True, max_depth: int | None = 64,
                file: IO[str] | None = None) -> None:
    """Print the graph behind ``output`` as an indented tree, output first, inputs below.

    A node reached a second time (a shared subexpression) is printed once in full and then as
    ``<name> (shown above)``; levels below ``max_depth`` are cut with ``...``. Example::

        SumBackward ()
        └─ MulBackward (3,)
           ├─ x (3,)
           └─ w (3,)
    """
    file = sys.stdout if file is None else file
    names = _names(params)
    printed: set[int] = set()
    for t in _outputs(output):
        if not t.requires_grad:
            shape = " " + _shape(t.shape) if show_shapes else ""
            print(f"tensor{shape} (requires_grad=False: no graph)", file=file)
            continue
        root = t.grad_fn if t.grad_fn is not None else t._edge()[0]
        # stack of (node, edge shape, output_nr, prefix for this line, prefix for children, depth)
        stack = [(root, tuple(t.shape), t._output_nr, "", "", 0)]
        while stack:
            node, shape, nr, head, pad, depth = stack.pop()
            if isinstance(node, AccumulateGrad):
                label, _ = _leaf_label(node, names)
            else:
                label = node.name + (f"[{nr}]" if node.n_outputs > 1 else "")
            if show_shapes and shape is not None:
                label += " " + _shape(shape)
            if id(node) in printed and not isinstance(node, AccumulateGrad) and node.next_edges:
                print(f"{head}{label} (shown above)", file=file)
                continue
            printed.add(id(node))
            print(head + label, file=file)
            kids = [(e, meta) for e, meta in zip(node.next_edges, node.in_meta) if e is not None]
            if not kids:
                continue
            if max_depth is not None and depth + 1 > max_depth:
                print(f"{pad}└─ ... (more levels: pass max_depth=None)", file=file)
                continue
            for k in range(len(kids) - 1, -1, -1):  # pushed in reverse: printed in input order
                (child, cnr), meta = kids[k]
                last = k == len(kids) - 1
                stack.append((child, meta[0] if meta else None, cnr,
                              pad + ("└─ " if last else "├─ "),
                              pad + ("   " if last else "│  "), depth + 1))


def draw(output: Tensor | Sequence[Tensor], path: str | Path, format: str = "svg",
         params: Mapping[str, Tensor] | None = None, show_shapes: bool = True) -> Path:
    """Render the graph to ``path`` (any Graphviz ``format``: svg, png, pdf) and return it.

    Uses the ``graphviz`` Python package when installed (``pip install 'ember[viz]'``), else
    the ``dot`` program if it is on PATH; raises RuntimeError saying how to install either.
    """
    src = to_dot(output, params=params, show_shapes=show_shapes)
    path = Path(path)
    try:
        import graphviz
    except ImportError:
        graphviz = None
    if graphviz is not None:
        try:
            data = graphviz.Source(src).pipe(format=format)
        except graphviz.ExecutableNotFound as exc:
            raise RuntimeError(_NOT_FOUND) from exc
    else:
        dot = shutil.which("dot")
        if dot is None:
            raise RuntimeError(_NOT_FOUND)
        proc = subprocess.run([dot, f"-T{format}"], input=src.encode(), capture_output=True,
                              check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"dot -T{format} failed: {proc.stderr.decode(errors='replace')}")
        data = proc.stdout
    path.write_bytes(data)
    return path
