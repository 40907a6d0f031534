"""`with Tape() as tape:` keeps the recorded ops in execution order; printing it shows the
Wengert list: tape position, op, inputs and output, each input named or numbered."""

import numpy as np

import autograd_lite as al


def _record():
    x = al.tensor([[1.0, 2.0]], requires_grad=True, name="x")
    w = al.ones(2, 3, requires_grad=True, name="w")
    with al.Tape() as tape:
        h = x @ w
        y = (al.tanh(h) * 2.0).sum()
    return tape, y


def test_tape_records_ops_in_execution_order():
    tape, y = _record()
    assert len(tape) == 4
    assert [t.op for t in tape] == ["matmul", "tanh", "mul", "sum"]
    seqs = [t._node.seq for t in tape]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    assert list(tape)[-1] is y


def test_tape_prints_the_wengert_list():
    tape, _ = _record()
    a, b, c, d = (t._node.seq for t in tape)
    rows = [
        ("#", "op", "inputs", "output"),
        (f"{a}", "matmul", "x(1, 2), w(2, 3)", f"#{a}(1, 3)"),
        (f"{b}", "tanh", f"#{a}(1, 3)", f"#{b}(1, 3)"),
        (f"{c}", "mul", f"#{b}(1, 3), 2.0", f"#{c}(1, 3)"),
        (f"{d}", "sum", f"#{c}(1, 3)", f"#{d}()"),
    ]
    lines = str(tape).splitlines()
    assert lines[0] == "Tape with 4 ops"
    assert [_cells(line) for line in lines[1:]] == [list(row) for row in rows]
    # Columns are aligned: each op name starts where the header's "op" does.
    assert {line.index(row[1]) for line, row in zip(lines[1:], rows)} == {lines[1].index("op")}


def _cells(line: str) -> list[str]:
    """The columns of a printed row: separated by two or more spaces."""
    return [cell.strip() for cell in line.split("  ") if cell.strip()]


def test_printed_tape_shows_array_constants_by_shape():
    a = al.tensor([1.0, 2.0, 3.0], requires_grad=True, name="a")
    with al.Tape() as tape:
        a * np.ones(3)
    (seq,) = (t._node.seq for t in tape)
    assert _cells(str(tape).splitlines()[2]) == [f"{seq}", "mul", "a(3,), (3,)", f"#{seq}(3,)"]


def test_only_ops_inside_the_block_that_need_grad_are_recorded():
    x = al.tensor([1.0], requires_grad=True)
    before = x * 2
    with al.Tape() as tape:
        al.tensor([1.0]) * 2  # no input requires grad: nothing to record
        with al.no_grad():
            x * 3
        inside = before + x
    after = inside * 2
    assert list(tape) == [inside]
    assert after.op == "mul"


def test_printed_tape_is_the_same_after_backward():
    # backward() releases the arrays its rules kept, never the graph's structure.
    tape, y = _record()
    before = str(tape)
    y.backward()
    assert str(tape) == before


def test_nested_tapes_both_record():
    x = al.tensor([1.0], requires_grad=True)
    with al.Tape() as outer:
        a = x * 2
        with al.Tape() as inner:
            b = a + 1
    assert list(outer) == [a, b] and list(inner) == [b]
