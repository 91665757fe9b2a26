"""Print one of the README's two quick-start commands (``setup`` or ``test``).

The README marks them with ``<!-- ci:setup -->`` / ``<!-- ci:test -->`` before a fenced
``bash`` block; CI runs exactly those blocks, so the README cannot drift from what is tested.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
which = sys.argv[1]
m = re.search(rf"<!-- ci:{which} -->\s*```bash\n(.*?)```", text, re.S)
if not m:
    sys.exit(f"README.md has no block marked <!-- ci:{which} -->")
print(" ".join(line.strip().rstrip("\\").strip() for line in m.group(1).strip().splitlines()))
