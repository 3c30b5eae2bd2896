"""dmemu: a behavioural emulator of DM8 and DM8 Data Watch (数据守护).

It exposes DM8's own interfaces only: the console tools (dminit, dmserver, disql, dmrman,
dmwatcher, dmmonitor), DM8's configuration files and the DM client wire protocol.
"""

__version__ = "0.1.0"
SERVER_VERSION = "8.1.3.140"       # reported as SVR_VERSION / in the STARTUP reply
BUILD_VERSION = "1-3-140-2026.11.24-dmemu"
