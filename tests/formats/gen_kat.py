#!/usr/bin/env python3
"""Known-answer vectors for tq's block formats, computed independently of the C code.

This is a second implementation of the formats, written from the normative text
(../shared/FORMATS.md and the quantize rules of the project brief), in pure Python with
no numpy. Its constants are parsed from the text as written there (decimal codebooks,
sign vectors as hex bytes), not taken from the C headers. Python floats are binary64;
every binary32 operation of the reference is emulated by rounding the exact binary64
result to binary32 (for +, -, *, / and sqrt of binary32 operands this double rounding
is harmless because 53 >= 2*24 + 2).

Usage:
  gen_kat.py            print the generated C tables
  gen_kat.py --update   rewrite the generated section of test_kat.c
  gen_kat.py --check    exit 1 if test_kat.c's generated section is stale
"""
import math
import os
import struct
import sys

# ------------------------------------------------------------------ the format text

CODEBOOK_HALF = {
    2: "0.039994, 0.133462",
    3: "0.021663, 0.066822, 0.118786, 0.190207",
    4: "0.011349, 0.034299, 0.058050, 0.083292, 0.111036, 0.143016, 0.182877, 0.241529",
}
S1_HEX = "59036ae44959f842bb3bc6a4a950f249"
S2_HEX = "90eeac16dc8f623f7a35a5b76265a5be"
GROUP = 128
ZERO_EPS = 1e-10

# ------------------------------------------------------------------ binary32 emulation


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def f32_bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def bits_f32(b):
    return struct.unpack("<f", struct.pack("<I", b))[0]


def next_up(x):
    """Next binary32 above x (x a positive binary32)."""
    return bits_f32(f32_bits(x) + 1)


def next_down(x):
    return bits_f32(f32_bits(x) - 1)


def fp16_bits(x):
    """binary32 value -> binary16 bits, round to nearest even (struct does RNE)."""
    if math.isnan(x):
        return 0x7E00
    try:
        return struct.unpack("<H", struct.pack("<e", x))[0]
    except OverflowError:
        # beyond the largest finite half after rounding (>= 65520): infinity
        return 0xFC00 if x < 0 else 0x7C00


def fp16_value(h):
    return struct.unpack("<e", struct.pack("<H", h))[0]


E32 = f32(ZERO_EPS)            # the threshold as the C code's float literal 1e-10f
C_SCALE = f32(1.0 / math.sqrt(GROUP))

# ------------------------------------------------------------------ derived tables


def codebook(bits):
    half = [f32(float(s)) for s in CODEBOOK_HALF[bits].split(",")]
    assert len(half) == 1 << (bits - 1)
    return [-v for v in reversed(half)] + half


def midpoints(bits):
    cb = codebook(bits)
    return [f32(f32(cb[i] + cb[i + 1]) / 2) for i in range(len(cb) - 1)]


def signs(hexstr):
    """+1/-1 per element: bit b of byte k set means element 8k+b is -1."""
    raw = bytes.fromhex(hexstr)
    return [-1.0 if (raw[j // 8] >> (j % 8)) & 1 else 1.0 for j in range(GROUP)]


S1 = signs(S1_HEX)
S2 = signs(S2_HEX)
assert S1.count(-1.0) == 60 and S2.count(-1.0) == 70


def butterfly(x):
    h = 1
    while h < GROUP:
        for i in range(0, GROUP, 2 * h):
            for j in range(i, i + h):
                a, b = x[j], x[j + h]
                x[j] = f32(a + b)
                x[j + h] = f32(a - b)
        h *= 2


def forward(u):
    x = [u[j] * S1[j] for j in range(GROUP)]
    butterfly(x)
    return [f32(x[j] * C_SCALE) * S2[j] for j in range(GROUP)]


def nearest(bits, y):
    return sum(1 for m in midpoints(bits) if not (y < m))

# ------------------------------------------------------------------ quantizers


def turbo_rotated(x):
    """g and the rotated unit vector y of one zero-padded group (None if all-zero)."""
    s = 0.0
    for v in x:
        s = f32(s + f32(v * v))
    g = f32(math.sqrt(s))
    if g <= E32:
        return g, None
    u = [f32(v / g) for v in x]
    return g, forward(u)


def turbo_block(bits, x):
    g, y = turbo_rotated(x)
    nbytes = {2: 34, 3: 50, 4: 66}[bits]
    out = bytearray(nbytes)
    if y is None:
        return bytes(out)
    cb = codebook(bits)
    r2 = 0.0
    for j, v in enumerate(y):
        idx = nearest(bits, v)
        if bits == 2:
            out[2 + j // 4] |= idx << (2 * (j % 4))
        elif bits == 3:
            out[2 + j // 4] |= (idx & 3) << (2 * (j % 4))
            out[34 + j // 8] |= (idx >> 2) << (j % 8)
        else:
            out[2 + j // 2] |= idx << (4 * (j % 2))
        r2 = f32(r2 + f32(cb[idx] * cb[idx]))
    r = f32(math.sqrt(r2))
    norm = fp16_bits(f32(g / r) if r > E32 else g)
    out[0:2] = struct.pack("<H", norm)
    return bytes(out)


def turbo_dequant(bits, blk):
    cb = codebook(bits)
    norm = fp16_value(struct.unpack("<H", blk[0:2])[0])
    ys = []
    for j in range(GROUP):
        if bits == 2:
            idx = (blk[2 + j // 4] >> (2 * (j % 4))) & 3
        elif bits == 3:
            idx = ((blk[2 + j // 4] >> (2 * (j % 4))) & 3) | (((blk[34 + j // 8] >> (j % 8)) & 1) << 2)
        else:
            idx = (blk[2 + j // 2] >> (4 * (j % 2))) & 15
        ys.append(f32(cb[idx] * norm))
    return ys


def round_half_away(v):
    return int(math.copysign(math.floor(abs(v) + 0.5), v))


def q8_0_block(x):
    amax = 0.0
    for v in x:
        amax = max(amax, abs(v))
    d = f32(amax / 127)
    i = f32(1 / d) if d != 0 else 0.0
    out = struct.pack("<H", fp16_bits(d))
    return out + bytes((round_half_away(f32(v * i)) & 0xFF) for v in x)


def q8_0_dequant(blk):
    d = fp16_value(struct.unpack("<H", blk[0:2])[0])
    return [f32(struct.unpack("<b", blk[2 + j:3 + j])[0] * d) for j in range(32)]


def q4_0_block(x):
    amax, m = 0.0, 0.0
    for v in x:
        if abs(v) > amax:
            amax, m = abs(v), v
    d = f32(m / -8)
    i = f32(1 / d) if d != 0 else 0.0
    q = [min(15, math.trunc(f32(f32(v * i) + 8.5))) for v in x]
    return struct.pack("<H", fp16_bits(d)) + bytes(q[j] | (q[j + 16] << 4) for j in range(16))


def q4_0_dequant(blk):
    d = fp16_value(struct.unpack("<H", blk[0:2])[0])
    lo = [f32(((blk[2 + j] & 15) - 8) * d) for j in range(16)]
    hi = [f32(((blk[2 + j] >> 4) - 8) * d) for j in range(16)]
    return lo + hi


def quantize_row(tname, x):
    """Bytes and rotated-domain dequantized floats of one row."""
    n = len(x)
    if tname == "f16":
        hs = [fp16_bits(v) for v in x]
        return b"".join(struct.pack("<H", h) for h in hs), [fp16_value(h) for h in hs]
    if tname in ("q8_0", "q4_0"):
        assert n % 32 == 0
        enc, dec = (q8_0_block, q8_0_dequant) if tname == "q8_0" else (q4_0_block, q4_0_dequant)
        blocks = [enc(x[b:b + 32]) for b in range(0, n, 32)]
        return b"".join(blocks), [v for blk in blocks for v in dec(blk)]
    bits = int(tname[-1])
    padded = (n + GROUP - 1) // GROUP * GROUP
    xp = list(x) + [0.0] * (padded - n)
    blocks = [turbo_block(bits, xp[b:b + GROUP]) for b in range(0, padded, GROUP)]
    return b"".join(blocks), [v for blk in blocks for v in turbo_dequant(bits, blk)]


def fnv1a_floats(vals):
    h = 0x811C9DC5
    for v in vals:
        for byte in struct.pack("<f", v):
            h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h

# ------------------------------------------------------------------ inputs
# The C test rebuilds "parabola", "lcg" and "zero" inputs from the same integer
# formulas (exact in binary32); "sparse" inputs are listed element by element.


def parabola(n):
    return [float((j - 64) * (j - 20)) / 2048.0 for j in range(n)]


def lcg(n, seed):
    s, out = seed, []
    for _ in range(n):
        s = (s * 1103515245 + 12345) & 0x7FFFFFFF
        out.append(float(((s >> 16) % 2001) - 1000) / 256.0)
    return out


def sparse_vec(n, entries):
    x = [0.0] * n
    for pos, v in entries:
        x[pos] = v
    return x


def find_midpoint_tie(bits, m, p=5, q=90):
    """x = e_p + b e_q with b chosen so that some rotated entries land exactly on +-m.

    With two non-zero inputs every butterfly output is +-u_p +- u_q rounded once, so the
    rotated values are +-f32(f32(u_p +- u_q) * c). Scans b near the analytic solution."""
    t_exact = m / C_SCALE
    if t_exact >= math.sqrt(2) * 0.999:
        return None
    # u = (1, b) / sqrt(1 + b^2): u_p - u_q = t (t < 1) or u_p + u_q = t (t > 1) both
    # give a b^2 - 2 b + a = 0 with a = |1 - t^2|; take the root in (0, 1).
    a = abs(1 - t_exact * t_exact)
    if a < 1e-6:
        return None
    b0 = (1 - math.sqrt(1 - a * a)) / a
    b = f32(b0)
    cand = [b]
    lo = hi = b
    for _ in range(4000):
        hi = next_up(hi)
        lo = next_down(lo)
        cand += [hi, lo]
    for bv in cand:
        s = f32(f32(1.0) + f32(bv * bv))
        g = f32(math.sqrt(s))
        up, uq = f32(1.0 / g), f32(bv / g)
        for t in (f32(up - uq), f32(up + uq)):
            if f32(t * C_SCALE) == m:
                x = sparse_vec(GROUP, [(p, 1.0), (q, bv)])
                _, y = turbo_rotated(x)
                if any(v == m for v in y) and any(v == -m for v in y):
                    return [(p, 1.0), (q, bv)]
    return None


def find_norm_tie(bits, want_odd, near=0, k=3):
    """x = v e_k: every rotated entry is +-c exactly, so the indices and r are fixed and
    g = v. Picks v so that g / r in binary32 is exactly a binary16 rounding tie (between
    a half with even (want_odd=False) or odd lower mantissa), or `near` ulps from one."""
    idx = nearest(bits, C_SCALE)
    cb = codebook(bits)
    r2 = 0.0
    for _ in range(GROUP):
        r2 = f32(r2 + f32(cb[idx] * cb[idx]))
    r = f32(math.sqrt(r2))
    for mant in range(0x101 if want_odd else 0x100, 0x3FF, 2):   # halves 1 + mant/1024
        tie = 1.0 + (mant + 0.5) / 1024.0                           # exact in binary32
        target = tie
        for _ in range(abs(near)):
            target = next_up(target) if near > 0 else next_down(target)
        v = f32(target * r)
        for cand in (v, next_up(v), next_down(v), next_up(next_up(v)), next_down(next_down(v))):
            g = f32(math.sqrt(f32(cand * cand)))
            if g == cand and f32(g / r) == target and f32(cand / g) == 1.0:
                return [(k, cand)]
    return None


# x = e_3 + e_77: u = (1, 1)/sqrt(2) exactly equal, so half the butterfly outputs are
# u - u = +0.0 exactly; after the s2 signs both +0.0 and -0.0 appear.
ZERO_TIES = [(3, 1.0), (77, 1.0)]
_, _y0 = turbo_rotated(sparse_vec(GROUP, ZERO_TIES))
assert any(v == 0 and math.copysign(1, v) > 0 for v in _y0)
assert any(v == 0 and math.copysign(1, v) < 0 for v in _y0)


def cases():
    out = []
    bit_counts = (2, 3, 4)
    for bits in bit_counts:
        t = "turbo%d" % bits
        out += [
            (t, "parabola", 128, ("parabola",)),
            (t, "lcg", 128, ("lcg", 1)),
            (t, "zero", 128, ("zero",)),
            (t, "pad64_lcg", 64, ("lcg", 2)),
            (t, "two_groups_parabola", 256, ("parabola",)),
            (t, "two_groups_lcg", 256, ("lcg", 3)),
            (t, "zero_ties", 128, ("sparse", ZERO_TIES)),
        ]
        hits = 0
        for m in midpoints(bits):
            if m <= 0 or hits >= 2:
                continue
            e = find_midpoint_tie(bits, m)
            if e:
                out.append((t, "midpoint_tie_%.6f" % m, 128, ("sparse", e)))
                hits += 1
        assert hits >= 1, "no reachable midpoint tie for %s" % t
        for name, odd, near in (("norm_tie_even", False, 0), ("norm_tie_odd", True, 0),
                                ("norm_below_odd_tie", True, -1), ("norm_above_even_tie", False, 1)):
            e = find_norm_tie(bits, odd, near)
            assert e, "no norm tie for %s %s" % (t, name)
            out.append((t, name, 128, ("sparse", e)))
    for t in ("q8_0", "q4_0"):
        out += [
            (t, "parabola", 128, ("parabola",)),
            (t, "lcg", 64, ("lcg", 4)),
            (t, "zero", 32, ("zero",)),
        ]
    # q8_0: amax 127 gives d = 1, so x + 0.5 values are exact rounding ties (away from 0)
    out.append(("q8_0", "round_half_away", 32,
                ("sparse", [(j, (j - 16) + 0.5) for j in range(31)] + [(31, 127.0)])))
    # q4_0: the first element of largest magnitude sets the sign of d
    out.append(("q4_0", "max_first_positive", 32,
                ("sparse", [(2, 8.0), (9, -8.0), (10, 3.0), (20, -4.5), (30, 1.0)])))
    out.append(("q4_0", "max_first_negative", 32,
                ("sparse", [(2, -8.0), (9, 8.0), (10, 3.0), (20, -4.5), (30, 1.0)])))
    out += [
        ("f16", "parabola", 128, ("parabola",)),
        ("f16", "lcg", 64, ("lcg", 5)),
        ("f16", "special", 16, ("sparse", [
            (0, 1.0 + 2.0 ** -11), (1, 1.0 + 3 * 2.0 ** -11), (2, 65504.0), (3, 65519.0),
            (4, 65520.0), (5, 2.0 ** -25), (6, 3 * 2.0 ** -26), (7, 2.0 ** -24),
            (8, -0.0), (9, f32(1e-10)), (10, f32(-2.5e-6)), (11, 1e5),
            (12, 2.0 ** -14), (13, f32(6.1e-5)), (14, -(1.0 + 2.0 ** -11 + 2.0 ** -20)),
            (15, f32(0.1))])),
    ]
    return out


def build_input(n, spec):
    if spec[0] == "parabola":
        return parabola(n)
    if spec[0] == "lcg":
        return lcg(n, spec[1])
    if spec[0] == "zero":
        return [0.0] * n
    return sparse_vec(n, spec[1])

# ------------------------------------------------------------------ C output


TYPE_ENUM = {"f16": "TQ_TYPE_F16", "q8_0": "TQ_TYPE_Q8_0", "q4_0": "TQ_TYPE_Q4_0",
             "turbo2": "TQ_TYPE_TURBO2", "turbo3": "TQ_TYPE_TURBO3", "turbo4": "TQ_TYPE_TURBO4"}
INPUT_ENUM = {"parabola": "KAT_PARABOLA", "lcg": "KAT_LCG", "zero": "KAT_ZERO",
              "sparse": "KAT_SPARSE"}


def generate():
    lines = ["/* Generated by tests/formats/gen_kat.py: do not edit by hand. */"]
    sparse_tables = []
    entries = []
    for i, (tname, name, n, spec) in enumerate(cases()):
        x = build_input(n, spec)
        raw, deq = quantize_row(tname, x)
        kind = INPUT_ENUM[spec[0]]
        seed = spec[1] if spec[0] == "lcg" else 0
        sp, nsp = "NULL", 0
        if spec[0] == "sparse":
            sp = "kat_sparse_%d" % i
            nsp = len(spec[1])
            items = ", ".join("{ %d, 0x%08xu }" % (p, f32_bits(v)) for p, v in spec[1])
            sparse_tables.append("static const kat_elem %s[] = { %s };" % (sp, items))
        hexs = raw.hex()
        chunks = [hexs[k:k + 96] for k in range(0, len(hexs), 96)]
        hexlit = "\n        ".join('"%s"' % c for c in chunks)
        entries.append('    { "%s/%s", %s, %d, %s, %d, %s, %d, 0x%08xu,\n        %s },'
                       % (tname, name, TYPE_ENUM[tname], n, kind, seed, sp, nsp,
                          fnv1a_floats(deq), hexlit))
    lines += sparse_tables
    lines.append("static const kat_case kat_cases[] = {")
    lines += entries
    lines.append("};")
    return "\n".join(lines) + "\n"


BEGIN = "/* BEGIN GENERATED KAT */\n"
END = "/* END GENERATED KAT */\n"


def main():
    text = generate()
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "test_kat.c")
    if len(sys.argv) > 1 and sys.argv[1] in ("--update", "--check"):
        src = open(path).read()
        a, b = src.index(BEGIN) + len(BEGIN), src.index(END)
        if sys.argv[1] == "--check":
            if src[a:b] != text:
                print("test_kat.c is stale: run tests/formats/gen_kat.py --update")
                return 1
            print("test_kat.c matches the independent generator")
            return 0
        open(path, "w").write(src[:a] + text + src[b:])
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
