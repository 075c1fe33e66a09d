#!/usr/bin/env python3
"""Error texts as a Python grpcio client receives them: each must read exactly as the server
wrote it, punctuation (, ; : = / [ ]), '%' and non-ASCII included.

    python3 examples/python/errors.py <address>

Needs only grpcio (Debian: apt-get install python3-grpcio); the one request message is encoded
by hand, so no generated stubs or protobuf package are needed. Exits non-zero when a text differs.
"""
import sys

import grpc

# The same name as ErrorTextTest (Java) and errors.js (Node).
AWKWARD_NAME = 'naïve, a;b:c=d/e%f 100% ✓ 日本 "q" %3B'


def string_field(number, text):
    """A protobuf length-delimited field (wire type 2) holding UTF-8 text."""
    data = text.encode("utf-8")
    out = bytearray([number << 3 | 2])
    n = len(data)
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out) + data


def main():
    address = sys.argv[1] if len(sys.argv) > 1 else "localhost:9000"
    with grpc.insecure_channel(address) as channel:
        get_base_model = channel.unary_unary("/graft.v1.ModelService/GetBaseModel")
        try:
            get_base_model(string_field(1, AWKWARD_NAME), timeout=30)
            sys.exit("errors.py: GetBaseModel succeeded; expected NOT_FOUND")
        except grpc.RpcError as e:
            expected = f"base model '{AWKWARD_NAME}' does not exist"
            if e.code() != grpc.StatusCode.NOT_FOUND or e.details() != expected:
                sys.exit(f"errors.py: expected NOT_FOUND '{expected}'\n     got {e.code()} '{e.details()}'")
            print(f"  ok NOT_FOUND: {e.details()}")
    print("errors.py: every error text arrived exactly as written")


if __name__ == "__main__":
    main()
