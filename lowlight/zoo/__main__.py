import sys

from lowlight.zoo.pack import main

sys.exit(main())
