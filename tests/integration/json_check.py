#!/usr/bin/env python3
"""json_check.py SCHEMA DEF FILE: FILE holds exactly one JSON document that
is valid for $defs/DEF of SCHEMA (docs/krbfleet-output.schema.json), or is
an error document ({"error": {...}}) - what any krbfleet command may print
with --json. Prints why not and exits 1; exits 0 when it is."""
import json
import sys

import jsonschema


def main():
    if len(sys.argv) != 4:
        print("usage: json_check.py SCHEMA DEF FILE", file=sys.stderr)
        return 2
    path_schema, name, path_doc = sys.argv[1:]
    with open(path_schema, encoding="utf-8") as f:
        schema = json.load(f)
    if name not in schema["$defs"]:
        print(f"no definition {name!r} in {path_schema}", file=sys.stderr)
        return 2
    with open(path_doc, "rb") as f:
        raw = f.read()
    try:
        # json.loads refuses a second document after the first ("Extra data")
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        print(f"not exactly one JSON document: {e}; output: {raw[:300]!r}")
        return 1
    which = "error_document" if isinstance(doc, dict) and list(doc) == ["error"] else name
    wrapper = dict(schema)
    wrapper["$ref"] = f"#/$defs/{which}"
    validator = jsonschema.Draft202012Validator(wrapper)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    for e in errors[:5]:
        where = "/".join(str(p) for p in e.absolute_path) or "(document)"
        print(f"{which}: at {where}: {e.message}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
