#!/usr/bin/env python3
"""Writes ErrorNormalizerFuzz's seed corpus into OUT_DIR: every acceptance vector's body under
its own status, Content-Type and dialect, the same body under every other dialect, and a few
bodies aimed at the fuzz-only dialects. Each file is the 5-byte header that
Sources/ErrorNormalizerFuzz/Fuzz.swift documents, then the body.

    Fuzz/seed-corpus.py Tests/ErrorNormalizerTests/Fixtures/dialect-vectors.json OUT_DIR
"""
import hashlib, json, os, sys

# The order of FuzzCase.dialects and FuzzCase.contentTypes in Fuzz.swift.
DIALECTS = ["auto", "oneclick", "status_envelope", "status_envelope_200", "message_description",
            "fuzz_rules", "fuzz_when"]
CONTENT_TYPES = {"application/json": 0, None: 1, "text/plain": 2, "text/html": 3}

def header(dialect, content_type, status, flags=0):
    raw = (status - 400) if status >= 400 else 0x8000 | (status - 200)
    return bytes([dialect, content_type, raw >> 8, raw & 0xFF, flags])

def main():
    fixture_path, out = sys.argv[1], sys.argv[2]
    fixture = json.load(open(fixture_path))
    os.makedirs(out, exist_ok=True)
    seeds = []
    for v in fixture["vectors"]:
        up = v["upstream"]
        body = up["body_text"].encode() if "body_text" in up else json.dumps(up["body"], separators=(",", ":")).encode()
        content_type = CONTENT_TYPES.get(up.get("headers", {}).get("Content-Type"), 0)
        own = DIALECTS.index(v["dialect"])
        seeds.append(header(own, content_type, up["status"]) + body)
        for i in range(len(DIALECTS)):
            if i != own:
                seeds.append(header(i, content_type, up["status"], flags=i * 9 & 0x1F) + body)
    fuzz_rules = DIALECTS.index("fuzz_rules")
    fuzz_when = DIALECTS.index("fuzz_when")
    seeds += [
        header(fuzz_rules, 0, 422) + b'{"m":"code=E_1 param email end status 409","t":"x","s":"451"}',
        header(fuzz_rules, 0, 400) + b'[{"t":"E","code":"bad","s":418}]',
        header(fuzz_rules, 0, 500) + b'{"a/b":[1],"c~d":2.5,"p":"/x/y~1z","msgs":["a","b"]}',
        header(fuzz_rules, 0, 503) + b'{"errors":[{"source":{"pointer":"/data/attributes/email"}}],"m":"end"}',
        header(fuzz_when, 0, 200) + b'{"ok":false,"n":1.0,"z":null,"s":"e","code":"409","detail":"Busy","kind":"busy"}',
        header(fuzz_when, 0, 302) + b'{"ok":false,"n":1,"z":null,"s":"e","code":409}',
        header(fuzz_when, 7, 204) + b'{"ok":false,"n":1,"z":null,"s":"e"}',
    ]
    for seed in seeds:
        with open(os.path.join(out, hashlib.sha1(seed).hexdigest()), "wb") as f:
            f.write(seed)
    print(f"{len(set(seeds))} seeds in {out}")

main()
