#!/usr/bin/env python3
"""Validate wire-protocol messages against docs/wire-protocol.schema.json.

Usage: check_wire_schema.py SCHEMA CASES

CASES is JSON Lines, each {"def": "Request" | "Response", "valid": bool,
"message": ...}: a message the schema must accept (valid) or refuse.
Prints every case the schema judged otherwise; exit 1 if any, 0 if none.
"""
import json
import sys

import jsonschema

schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
wrong = 0
for n, line in enumerate(open(sys.argv[2]), 1):
    case = json.loads(line)
    # The schema's own definitions, rooted at the one this case names.
    rooted = {k: v for k, v in schema.items() if k != "oneOf"}
    validator = jsonschema.Draft202012Validator({**rooted, "$ref": "#/$defs/" + case["def"]})
    errors = list(validator.iter_errors(case["message"]))
    if bool(errors) == case["valid"]:
        wrong += 1
        why = errors[0].message if errors else "accepted"
        print(f"case {n} ({case['def']}, should be {'valid' if case['valid'] else 'refused'}): {why}: {json.dumps(case['message'])}")
print(f"{n - wrong} of {n} cases judged as expected")
sys.exit(1 if wrong else 0)
