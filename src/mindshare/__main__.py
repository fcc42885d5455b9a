"""`python -m mindshare`: the same command as `mindshare`."""

import sys

from mindshare.cli.parser import main

sys.exit(main())
