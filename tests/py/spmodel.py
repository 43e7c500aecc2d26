"""spmodel.py: a tiny protobuf reader/writer for SentencePiece .model files.

The tests use it to make model variants (user-defined and unused pieces,
other normaliser flags, no byte fallback) that sentencepiece and lilm must
then encode identically. It knows only the wire format; field numbers follow
sentencepiece_model.proto (ModelProto: 1 pieces, 2 trainer_spec,
3 normalizer_spec; SentencePiece: 1 piece, 2 score, 3 type).
"""
import struct

NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6


def _varint(b, i):
    x = s = 0
    while True:
        c = b[i]
        i += 1
        x |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return x, i


def parse(b):
    """Returns [(field, wire, value)]; LEN values are bytes, others ints."""
    out, i = [], 0
    while i < len(b):
        t, i = _varint(b, i)
        n, w = t >> 3, t & 7
        if w == 0:
            v, i = _varint(b, i)
        elif w == 1:
            v = struct.unpack('<Q', b[i:i + 8])[0]
            i += 8
        elif w == 5:
            v = struct.unpack('<I', b[i:i + 4])[0]
            i += 4
        elif w == 2:
            l, i = _varint(b, i)
            v = b[i:i + l]
            i += l
        else:
            raise ValueError('wire type %d' % w)
        out.append((n, w, v))
    return out


def _enc_varint(x):
    x &= (1 << 64) - 1
    out = bytearray()
    while x >= 0x80:
        out.append((x & 0x7F) | 0x80)
        x >>= 7
    out.append(x)
    return bytes(out)


def serialize(fields):
    out = bytearray()
    for n, w, v in fields:
        out += _enc_varint(n << 3 | w)
        if w == 0:
            out += _enc_varint(v)
        elif w == 1:
            out += struct.pack('<Q', v)
        elif w == 5:
            out += struct.pack('<I', v)
        else:
            out += _enc_varint(len(v)) + v
    return bytes(out)


def piece(text, score, typ=NORMAL):
    f = [(1, 2, text.encode() if isinstance(text, str) else text), (2, 5, struct.unpack('<I', struct.pack('<f', score))[0])]
    if typ != NORMAL:
        f.append((3, 0, typ))
    return (1, 2, serialize(f))


class Model:
    """pieces: list of [bytes, float score, type]; trainer/normalizer: field lists."""

    def __init__(self, data):
        self.pieces, self.trainer, self.normalizer, self.rest = [], [], [], []
        for n, w, v in parse(data):
            if n == 1 and w == 2:
                p = [b'', 0.0, NORMAL]
                for pn, pw, pv in parse(v):
                    if pn == 1:
                        p[0] = pv
                    elif pn == 2:
                        p[1] = struct.unpack('<f', struct.pack('<I', pv))[0]
                    elif pn == 3:
                        p[2] = pv
                self.pieces.append(p)
            elif n == 2:
                self.trainer = parse(v)
            elif n == 3:
                self.normalizer = parse(v)
            else:
                self.rest.append((n, w, v))

    def set_field(self, fields, number, wire, value):
        fields[:] = [f for f in fields if f[0] != number] + ([(number, wire, value)] if value is not None else [])
        fields.sort(key=lambda f: f[0])

    def to_bytes(self):
        out = [piece(p[0], p[1], p[2]) for p in self.pieces]
        out.append((2, 2, serialize(self.trainer)))
        out.append((3, 2, serialize(self.normalizer)))
        return serialize(out + self.rest)
