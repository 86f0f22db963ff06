import sys

from spconnect.entry import main

sys.exit(main())
