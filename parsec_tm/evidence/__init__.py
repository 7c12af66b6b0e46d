"""Evidence per threat row: the proofs, counterexamples, tests and fuzz properties behind each row of Parsec's
threat model, and one status per row.

The threat model says which mitigation answers which threat; this package says what shows it. For each threat row
of a catalogue (one deployment variant), `gather.gather_evidence` collects:

* the Z3 invariants that cover it (`proof`, outcome the proof's status) and the mitigation verdicts whose
  counterexample realises it (`counterexample`, outcome ``found``), through one adapter over the proof report
  (`proofs.proof_facts`);
* the tests marked with its ID or its mitigations' IDs (`test`), from the results file the pytest plugin writes
  (`parsec_tm.pytest_plugin`, read by `results.load_results`);
* the conformance machine's properties that check it (`property`, declared as data in `fuzz`);
* the document's own words when it relies on operational mitigations or assumptions (`operational`) or accepts the
  risk (`unmitigated`).

`render` turns the result into text, JSON, Markdown and SARIF 2.1.0. The dataflow report takes the result as plain
data (a dict per threat ID), so `dataflow` never imports this package.
"""
