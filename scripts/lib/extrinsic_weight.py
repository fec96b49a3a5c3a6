"""Prints "ref_time proof_size" of the ExtrinsicSuccess event in the JSON that
`cargo contract call --execute --output-json` wrote; exits 1 if the extrinsic failed."""
import json
import sys


def find(value, key):
    """The first number under `key` anywhere in a nested JSON value."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k == key:
                # cargo-contract prints numbers as {"UInt": n}.
                if isinstance(v, dict) and "UInt" in v:
                    return int(v["UInt"])
                if isinstance(v, (int, str)) and str(v).isdigit():
                    return int(v)
            found = find(v, key)
            if found is not None:
                return found
    elif isinstance(value, list):
        for v in value:
            found = find(v, key)
            if found is not None:
                return found
    return None


def main(path):
    with open(path) as f:
        doc = json.load(f)
    events = doc if isinstance(doc, list) else doc.get("events", [])
    for e in events:
        if e.get("pallet") == "System" and e.get("name") == "ExtrinsicFailed":
            sys.exit(f"extrinsic failed: {json.dumps(e)[:400]}")
        if e.get("pallet") == "System" and e.get("name") == "ExtrinsicSuccess":
            print(find(e, "ref_time"), find(e, "proof_size"))
            return
    sys.exit(f"no ExtrinsicSuccess in {path}: {json.dumps(doc)[:400]}")


main(sys.argv[1])
