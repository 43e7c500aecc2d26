"""tok_encode_prepare.py OUT: the encoding benchmark's input.

Every "text" of the BabyLM jsonl files under ../shared/data (about 45 MB),
cut into lines of at most 1000 bytes at the last space before the limit (or
at a UTF-8 character boundary when a run has no space), one per line.
"""
import glob
import json
import os
import sys

root = os.environ.get('LILM_SHARED') or os.path.join(os.path.dirname(__file__), '..', '..', 'shared')
out = open(sys.argv[1], 'wb')
n_lines = n_bytes = 0
for path in sorted(glob.glob(os.path.join(root, 'data', 'babylm', '**', '*.jsonl'), recursive=True)):
    for rec in open(path, encoding='utf-8'):
        text = json.loads(rec)['text'].replace('\n', ' ').encode('utf-8')
        while text:
            if len(text) <= 1000:
                cut = len(text)
            else:
                cut = text.rfind(b' ', 0, 1001)
                if cut <= 0:
                    cut = 1000
                    while cut > 0 and (text[cut] & 0xC0) == 0x80:
                        cut -= 1
            line = text[:cut].strip(b' ')
            if line:
                out.write(line + b'\n')
                n_lines += 1
                n_bytes += len(line) + 1
            text = text[cut:].lstrip(b' ')
print(f'{n_lines} lines, {n_bytes} bytes', file=sys.stderr)
