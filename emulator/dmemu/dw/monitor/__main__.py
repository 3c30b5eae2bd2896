"""python -m dmemu.dw.monitor <dmmonitor.ini>"""

import sys

from .session import main

sys.exit(main())
