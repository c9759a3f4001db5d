"""`python -m mnist_lightning`: each command is a module of its own (`python -m mnist_lightning.train ...`). This
says so in one line, where Python would say "No module named mnist_lightning.__main__"."""

import shlex
import sys

COMMANDS = ("train", "evaluate", "predict", "export", "serve", "photos", "bench", "report")

asked = sys.argv[1] if len(sys.argv) > 1 else ""
if asked in ("--help", "-h"):
    print(f"usage: python -m mnist_lightning.<command>, one of {', '.join(COMMANDS)} (each takes --help)")
    sys.exit(0)
if asked in COMMANDS:
    usage = shlex.join(["python", "-m", f"mnist_lightning.{asked}", *sys.argv[2:]])
else:
    usage = f"python -m mnist_lightning.<command>, one of {', '.join(COMMANDS)}"
print(f"error: the commands are modules of their own: {usage}", file=sys.stderr)
sys.exit(2)
