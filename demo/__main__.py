import sys

from demo.app import main

raise SystemExit(main(sys.argv[1:]))
