"""The rule catalog: one module per rule, named ``caNNN_<name>.py`` (shipped as ``auditor.rules``).

Each module defines ``RULE`` (its documentation and examples) and ``check(ctx)``; the catalog
discovers them, so adding a file is all it takes to add a rule.
"""
