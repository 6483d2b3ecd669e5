import sys

from lowlight.evaluate.cli import main

sys.exit(main())
