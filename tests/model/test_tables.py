"""The two table representations of the Z3 twin (`model.tables`) read and write alike.

Finite tables (bounded model checking, the agreement check of `model.agreement`) and arrays (the unbounded proofs)
must mean the same thing, or an agreement checked on one says nothing about proofs on the other.
"""

from __future__ import annotations

import z3

from model.tables import ArrayTable, FiniteTable, finite_table


def test_finite_and_array_tables_read_and_write_alike() -> None:
    sort, values = z3.EnumSort("TableProbe", ["a", "b", "c"])
    index, other = z3.Const("probe_i", sort), z3.Const("probe_j", sort)
    finite = finite_table([values], lambda v: v == values[0])
    array = ArrayTable(z3.Lambda([z3.Const("probe_v", sort)], z3.Const("probe_v", sort) == values[0]))
    cases = [
        (finite[index], array[index]),
        (finite.store(index, z3.BoolVal(False))[other], array.store(index, z3.BoolVal(False))[other]),
        (
            finite.ite(z3.Bool("probe_c"), finite.store(other, z3.BoolVal(True)))[index],
            array.ite(z3.Bool("probe_c"), array.store(other, z3.BoolVal(True)))[index],
        ),
    ]
    solver = z3.Solver()
    solver.add(z3.Or([a != b for a, b in cases]))
    assert solver.check() == z3.unsat
    assert isinstance(finite.store(values[1], z3.BoolVal(True)), FiniteTable)
