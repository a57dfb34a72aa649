"""RESP for redis-cli --pipe, on keys PREFIX:%012d (0..N-1), the keys
redis-benchmark's PREFIX:__rand_int__ names:
  gen.py set PREFIX N SIZE         SETs to SIZE-byte values that start with the key
                                   (so a read checks its key's value), padded with 'v'
  gen.py set-random PREFIX N SIZE  SETs to SIZE random bytes (that do not compress)
  gen.py del PREFIX N              DELs"""
import os
import sys

cmd, prefix, n = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
size = int(sys.argv[4]) if len(sys.argv) > 4 else 0
out = sys.stdout.buffer
pad = b"v" * size
chunk = []
for i in range(n):
    k = b"%s:%012d" % (prefix, i)
    if cmd in ("set", "set-random"):
        v = (k + b":" + pad)[:size] if cmd == "set" else os.urandom(size)
        chunk.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
    elif cmd == "del":
        chunk.append(b"*2\r\n$3\r\nDEL\r\n$%d\r\n%s\r\n" % (len(k), k))
    else:
        sys.exit("gen.py: unknown command %r" % cmd)
    if len(chunk) >= 4096:
        out.write(b"".join(chunk))
        chunk = []
out.write(b"".join(chunk))
