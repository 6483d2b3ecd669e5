import sys

from lowlight.zoo import main

sys.exit(main())
