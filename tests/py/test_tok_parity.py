"""test_tok_parity.py: lilm's SentencePiece encoding and decoding against the
sentencepiece Python package (the reference uses 0.2.x), id for id.

Corpus: every document of ../shared/data (each line of the .txt/.train/.dev
files, each blank-line-separated paragraph of them, each jsonl "text" field,
including the ~60 KB BabyLM windows) plus an adversarial set (emoji and ZWJ
sequences, combining marks, CJK, RTL, control and zero-width characters,
invalid UTF-8, very long words, empty and whitespace-only strings, NFKC and
case-folding sensitive characters).

Models: baby_unigram_12K and baby_bpe_12K (the BabyLM tokenizers) on the full
corpus; the other three on every .txt line and paragraph plus every fourth
jsonl document (to keep the test near a minute on two cores); model variants
made here (user-defined and unused pieces, other whitespace flags, no byte
fallback, no charsmap) on the adversarial set plus a sample of the corpus;
unigram models with tied and nearly tied scores on long documents (the word
cache of unigram.c must fall back to the full lattice where rounding matters).
`lilm tok encode --null` gets the documents NUL-separated, so documents keep
their newlines; documents holding a NUL byte are checked in test_tok_encode.c.
The model written by lilm (`lilm tok rewrite`) must be byte-identical for a
read-write round trip, and a model rebuilt from scratch by lilm's writer must
load in sentencepiece and encode identically.
"""
import glob
import json
import os
import random
import subprocess
import sys
import tempfile

import sentencepiece as spm

import harness
import spmodel
from harness import case

MODELS = ['unigram_1K', 'unigram_8K', 'bpe_8K', 'baby_unigram_12K', 'baby_bpe_12K']
THREADS = str(os.cpu_count() or 2)


def model_path(name):
    return harness.shared(f'tokenizers/{name}.model')


def corpus():
    docs = []
    data = harness.shared('data')
    for path in sorted(glob.glob(os.path.join(data, '**', '*'), recursive=True)):
        if os.path.isdir(path) or os.path.basename(path) in ('SHA256SUMS', 'SOURCES.md'):
            continue
        raw = open(path, 'rb').read()
        if path.endswith('.jsonl'):
            for line in raw.decode('utf-8').splitlines():
                if line.strip():
                    docs.append(json.loads(line)['text'].encode('utf-8'))
        else:
            lines = raw.split(b'\n')
            docs.extend(lines)
            docs.extend(p for p in raw.split(b'\n\n') if p)
    assert len(docs) > 40000, f'only {len(docs)} documents found under {data}'
    return [d for d in docs if b'\0' not in d]


def adversarial():
    s = [
        '', ' ', '   ', '\t', '\n', ' \t \n ', '\u3000', '\u00a0\u00a0', 'a', ' a ', 'a  b   c', '  lead', 'trail  ',
        'Hello, World!', 'HELLO world', 'ﬁ ﬂ ﬀ ﬃ ①②③ ⑳ ㈱ ＡＢＣ ａｂｃ ０１２ ｶﾀｶﾅ', 'ß ẞ İ ı Σσς ǅ ǈ Ω Å K',
        'straße STRASSE', 'e\u0301 a\u0308 n\u0303 \u1e9b\u0323 한\u1100\u1161', '\u0041\u030a\u0301\u0327',
        '👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 🇬🇧 🇺🇳 ❤️ ✈︎ 1️⃣', '😀' * 50, '中文字符和日本語のテキスト、한국어 텍스트',
        'العربية مع أرقام ١٢٣ و עברית', '\u202eRTL override\u202c \u200f\u200e', 'zero\u200bwidth\u200cjoin\u200d\ufeffbom',
        'ctrl \x01\x02\x07\x08\x0b\x0c\x1b\x7f end', '\x85 \u2028 \u2029 \u180e', 'tab\tsep\tvalues', 'line\r\nbreak\rcr',
        'a' * 5000, 'supercalifragilisticexpialidocious' * 40, ('abc ' * 3000).strip(), 'x' * 20000 + ' y',
        '<unk> <s> </s> <pad> <0x41> ▁ ▁▁ _ __', '\u2581leading meta', 'numbers 3.14159 1e-10 0x1F 1,000,000',
        'mixed\u00adsoft\u00adhyphen', 'Ǆemo ǅemo ǆemo', '\ufffd replacement \ufffd', '\U0010fffd \U000e0041 \ue000',
        '𝐀𝐁𝐂 𝔸𝔹ℂ ℌ ℍ ⅷ Ⅻ ㎏ ㍿', 'ᴀʙᴄ ⁰¹² ₀₁₂ ½ ¾ ⅓', '\u0300 combining first', 'a' + '\u0301' * 30,
    ]
    out = [x.encode('utf-8') for x in s]
    out += [
        b'ab\xffc', b'\xc3', b'\xe2\x82', b'\xf0\x9f\x98', b'\x80\x80\x80', b'\xed\xa0\x80 surrogate',
        b'\xc0\xaf overlong', b'\xf4\x90\x80\x80 too high', b'ok \xfe\xff bad', b'\xe2\x96 half space',
        bytes(range(1, 128)), bytes(range(128, 256)), b'\xc3\xa9\xcc' * 10,
    ]
    rng = random.Random(7)
    alphabet = [c for c in 'aAbB ßİıﬁ①Ａ\u0301\u200d👍中ع\u00a0\t!.,0' ] + ['\U0001F468\u200d\U0001F469']
    for _ in range(300):
        out.append(''.join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40))).encode('utf-8'))
    for _ in range(100):
        out.append(bytes(rng.randrange(1, 256) for _ in range(rng.randrange(0, 30))))
    return out


def lilm(args, data):
    r = subprocess.run([harness.lilm_bin()] + args, input=data, capture_output=True)
    assert r.returncode == 0, f'lilm {" ".join(args)} failed ({r.returncode}): {r.stderr.decode(errors="replace")}'
    return r.stdout


def lilm_encode(model, docs):
    with tempfile.NamedTemporaryFile(suffix='.txt') as f:
        f.write(b''.join(d + b'\0' for d in docs))
        f.flush()
        out = lilm(['tok', 'encode', '--null', '--threads', THREADS, '--model', model, f.name], b'')
    lines = out.decode().split('\n')
    assert lines[-1] == '' and len(lines) == len(docs) + 1, f'{len(lines) - 1} output lines for {len(docs)} documents'
    return lines[:-1]


def compare_encode(model, docs, what):
    sp = spm.SentencePieceProcessor(model_file=model)
    want = sp.encode(docs, num_threads=int(THREADS))
    got = lilm_encode(model, docs)
    bad = [i for i, (w, g) in enumerate(zip(want, got)) if ' '.join(map(str, w)) != g]
    if bad:
        i = bad[0]
        raise AssertionError(f'{os.path.basename(model)} on {what}: {len(bad)} of {len(docs)} documents differ; '
                             f'first #{i} {docs[i][:200]!r}\n  sentencepiece {want[i][:40]}\n  lilm          '
                             f'{got[i][:300]}')
    return sp, want


def compare_decode(model, sp, ids, what):
    want = [sp.decode(x).encode('utf-8', 'surrogatepass') for x in ids]
    data = ''.join(' '.join(map(str, x)) + '\n' for x in ids).encode()
    out = lilm(['tok', 'decode', '--null-output', '--threads', THREADS, '--model', model], data)
    got = out.split(b'\0')
    assert got[-1] == b'' and len(got) == len(ids) + 1, f'{len(got) - 1} decoded texts for {len(ids)}'
    bad = [i for i in range(len(ids)) if want[i] != got[i]]
    assert not bad, (f'{os.path.basename(model)} decode on {what}: {len(bad)} differ; first #{bad[0]}: '
                     f'{want[bad[0]][:100]!r} vs {got[bad[0]][:100]!r}')


_corpus = []


def docs():
    if not _corpus:
        _corpus.extend(corpus())
    return _corpus


@case
def shared_models_full_corpus():
    """The shared models on the shared data: ids equal, and decode equal on a sample."""
    rng = random.Random(1)
    full = docs()
    part = [x for i, x in enumerate(full) if len(x) < 8192 or i % 4 == 0]
    for name in MODELS:
        d = full if name.startswith('baby_') else part
        sp, ids = compare_encode(model_path(name), d, 'the shared data')
        sample = rng.sample(range(len(d)), 3000)
        compare_decode(model_path(name), sp, [ids[i] for i in sample], 'the shared data')


@case
def shared_models_adversarial():
    adv = adversarial()
    for name in MODELS:
        sp, ids = compare_encode(model_path(name), adv, 'the adversarial set')
        compare_decode(model_path(name), sp, ids, 'the adversarial set')
        # decode(encode(x)) from lilm's own ids
        got = [list(map(int, l.split())) for l in lilm_encode(model_path(name), adv)]
        compare_decode(model_path(name), sp, got, 'lilm ids of the adversarial set')


def variants():
    """(name, model bytes): edits that exercise the rarer paths of both encoders."""
    out = []
    for base in ['unigram_8K', 'bpe_8K']:
        raw = open(model_path(base), 'rb').read()
        rng = random.Random(base)
        m = spmodel.Model(raw)
        normal = [i for i, p in enumerate(m.pieces) if p[2] == spmodel.NORMAL]
        for i in rng.sample(normal, 40):
            m.pieces[i][2] = spmodel.USER_DEFINED
        for p in ['<mask>', '♥', 'ab', '▁the▁', '中文', '👍']:
            if not any(q[0] == p.encode() for q in m.pieces):
                m.pieces.append([p.encode(), 0.0, spmodel.USER_DEFINED])
        out.append((base + '+user_defined', m.to_bytes()))
        m = spmodel.Model(raw)
        for i in rng.sample(normal, 300):
            m.pieces[i][2] = spmodel.UNUSED
        out.append((base + '+unused', m.to_bytes()))
        m = spmodel.Model(raw)
        m.set_field(m.normalizer, 3, 0, 0)  # add_dummy_prefix
        m.set_field(m.normalizer, 4, 0, 0)  # remove_extra_whitespaces
        out.append((base + '-whitespace_flags', m.to_bytes()))
        m = spmodel.Model(raw)
        m.set_field(m.normalizer, 5, 0, 0)  # escape_whitespaces
        m.set_field(m.trainer, 24, 0, 1)    # treat_whitespace_as_suffix
        out.append((base + '+suffix-escape', m.to_bytes()))
        m = spmodel.Model(raw)
        m.pieces = [p for p in m.pieces if p[2] != spmodel.BYTE]
        m.set_field(m.trainer, 35, 0, None)  # byte_fallback
        m.set_field(m.normalizer, 2, 2, None)  # no charsmap: identity normalisation
        out.append((base + '-byte_fallback-charsmap', m.to_bytes()))
        m = spmodel.Model(raw)
        for i in rng.sample(normal, 200):  # equal scores: tie-breaking
            m.pieces[i][1] = -5.0
        m.set_field(m.trainer, 44, 2, '<??>'.encode())  # unk_surface
        out.append((base + '+ties', m.to_bytes()))
    return out


@case
def model_variants():
    rng = random.Random(3)
    d = docs()
    sample = adversarial() + [d[i] for i in rng.sample(range(len(d)), 4000)]
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in variants():
            path = os.path.join(tmp, name + '.model')
            open(path, 'wb').write(data)
            sp, ids = compare_encode(path, sample, 'a sample')
            compare_decode(path, sp, ids, 'a sample')


def long_docs(n):
    """n of the longest documents (the BabyLM windows, tens of KB): their path
    scores cross sentencepiece's +-1e5 rescaling point many times."""
    return sorted(docs(), key=len)[-n:]


@case
def unigram_word_cache_near_ties():
    """unigram.c reuses a word's segmentation only when float rounding cannot
    change it. Scores on a coarse grid (exact ties) and on a grid with offsets
    just below the rounding bound (near ties) must still give sentencepiece's
    ids on long documents and on the sample."""
    rng = random.Random(11)
    d = docs()
    sample = long_docs(60) + [d[i] for i in rng.sample(range(len(d)), 3000)]
    raw = open(model_path('baby_unigram_12K'), 'rb').read()
    with tempfile.TemporaryDirectory() as tmp:
        for name, grid, jitter in [('integer', 1.0, 0.0), ('near_ties', 0.25, 2.0 ** -9)]:
            m = spmodel.Model(raw)
            for p in m.pieces:
                if p[2] == spmodel.NORMAL:
                    p[1] = round(p[1] / grid) * grid + rng.choice([-jitter, 0.0, jitter])
            path = os.path.join(tmp, f'baby_unigram_12K+{name}.model')
            open(path, 'wb').write(m.to_bytes())
            compare_encode(path, sample, 'long documents and a sample')


@case
def written_models_load_in_sentencepiece():
    rng = random.Random(5)
    d = docs()
    sample = adversarial() + [d[i] for i in rng.sample(range(len(d)), 2000)]
    with tempfile.TemporaryDirectory() as tmp:
        for name in MODELS:
            src = model_path(name)
            same = os.path.join(tmp, name + '.same.model')
            fresh = os.path.join(tmp, name + '.fresh.model')
            lilm(['tok', 'rewrite', '--model', src, '--output', same], b'')
            assert open(same, 'rb').read() == open(src, 'rb').read(), f'{name}: read-write round trip differs'
            lilm(['tok', 'rewrite', '--rebuild', '--model', src, '--output', fresh], b'')
            want = spm.SentencePieceProcessor(model_file=src).encode(sample)
            got = spm.SentencePieceProcessor(model_file=fresh).encode(sample)
            assert want == got, f'{name}: the model rebuilt by lilm encodes differently in sentencepiece'
            compare_encode(fresh, sample, 'a sample, rebuilt model')


harness.run()
