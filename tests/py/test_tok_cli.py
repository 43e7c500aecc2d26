"""test_tok_cli.py: the `lilm tok` command line (encode/decode/normalize/info/rewrite).

Output order and content must not depend on --threads; --output-format piece
must print sentencepiece's pieces; normalize must print sentencepiece's
normalised text; info --json must be valid JSON with the model's facts; bad
models, options, files and ids must exit 2 with a message.
"""
import json
import os
import subprocess
import tempfile

import sentencepiece as spm

import harness
from harness import case

MODEL = harness.shared('tokenizers/unigram_8K.model')
BPE = harness.shared('tokenizers/baby_bpe_12K.model')


def run(args, data=b'', rc=0):
    r = subprocess.run([harness.lilm_bin(), 'tok'] + args, input=data, capture_output=True)
    assert r.returncode == rc, f'lilm tok {" ".join(args)}: exit {r.returncode}, want {rc}: {r.stderr.decode()}'
    return r.stdout, r.stderr.decode()


def lines():
    path = harness.shared('data/babylm/dev/strict_small_2024/switchboard.dev')
    return open(path, 'rb').read().split(b'\n')[:6000]


@case
def threads_do_not_change_output():
    data = b'\n'.join(lines()) + b'\n'
    for model in (MODEL, BPE):
        one, _ = run(['encode', '--threads', '1', '--model', model], data)
        many, _ = run(['encode', '--threads', '7', '--model', model], data)
        assert one == many and one.count(b'\n') == data.count(b'\n')
        dec1, _ = run(['decode', '--threads', '1', '--model', model], one)
        dec7, _ = run(['decode', '--threads', '7', '--model', model], one)
        assert dec1 == dec7


@case
def pieces_and_normalize_match_sentencepiece():
    sp = spm.SentencePieceProcessor(model_file=MODEL)
    text = [b'Hello  World', b'\xef\xac\x81 \xe2\x91\xa0 \xef\xbc\xa1', b'', b'ab\xffc', b'   spaced   out  ']
    out, _ = run(['encode', '--output-format', 'piece', '--model', MODEL], b'\n'.join(text) + b'\n')
    want = [' '.join(sp.encode(t, out_type=str)) for t in text]
    assert out.decode().split('\n')[:-1] == want, out
    out, _ = run(['normalize', '--null-output', '--model', MODEL], b'\n'.join(text) + b'\n')
    assert out.split(b'\0')[:-1] == [sp.normalize(t) for t in text], out


@case
def info_json():
    out, _ = run(['info', '--json', '--model', BPE])
    j = json.loads(out)
    assert j['type'] == 'bpe' and j['vocab_size'] == 12000 and j['eos_id'] == 2 and j['pad_id'] == 3
    assert j['pieces']['byte'] == 256 and len(j['sha256']) == 64
    out, _ = run(['info', '--model', 'bytes'])
    assert b'vocab size:   260' in out


@case
def errors_exit_2():
    _, err = run(['encode', '--model', '/nonexistent.model'], rc=2)
    assert 'nonexistent' in err
    _, err = run(['encode', '--model', MODEL, '--threads', 'x'], rc=2)
    _, err = run(['encode', '--model', MODEL, '--bogus'], rc=2)
    _, err = run(['decode', '--model', MODEL], b'1 2 three\n', rc=2)
    assert 'record 1' in err
    _, err = run(['decode', '--model', MODEL], b'5\n8000\n', rc=2)
    assert 'invalid id 8000' in err
    _, err = run(['frobnicate'], rc=2)
    with tempfile.TemporaryDirectory() as tmp:
        bad = os.path.join(tmp, 'bad.model')
        open(bad, 'wb').write(open(MODEL, 'rb').read()[:5000])
        _, err = run(['encode', '--model', bad], b'x\n', rc=2)
        assert 'bad.model' in err
        _, err = run(['rewrite', '--model', MODEL], rc=2)


harness.run()
