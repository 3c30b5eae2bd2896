# ruff: noqa: W291, W293
"""The seed's configuration blocks, verbatim (seed-dm8-data-watch-setup.md sections 六, 十一, 十三).

Rendering tests compare the harness's output with these key by key. Copied from the seed document so
the tests run from a fresh clone. Trailing blanks are kept as in the seed."""

DM_INI_HOST1 = """\
INSTANCE_NAME = mema1 
#INSTANCE_NAME = mema2
PORT_NUM = 5236  #数据库实例监听端口
ALTER_MODE_STATUS = 0  #不允许手工方式修改实例模式/状态
ENABLE_OFFLINE_TS = 2  #不允许备库 OFFLINE 表空间
MAL_INI = 1  #打开 MAL 系统
ARCH_INI = 1  #打开归档配置
"""

DM_INI_HOST2 = """\
#INSTANCE_NAME = mema1 
INSTANCE_NAME = mema2
PORT_NUM = 5236  #数据库实例监听端口
ALTER_MODE_STATUS = 0  #不允许手工方式修改实例模式/状态
ENABLE_OFFLINE_TS = 2  #不允许备库 OFFLINE 表空间
MAL_INI = 1  #打开 MAL 系统
ARCH_INI = 1  #打开归档配置
"""

DMMAL_INI = """\
MAL_CHECK_INTERVAL = 5          #MAL 链路检测时间间隔
MAL_CONN_FAIL_INTERVAL = 5      #判定 MAL 链路断开的时间

[MAL_INST1]
MAL_INST_NAME = mema1           #实例名，和 dm.ini 中的 INSTANCE_NAME 一致
MAL_HOST = 192.168.56.201       #MAL 系统监听 TCP 连接的 IP 地址
MAL_PORT = 5238                 #MAL 系统监听 TCP 连接的端口
MAL_DW_PORT = 5239              #实例对应的守护进程监听 TCP 连接的端口
MAL_INST_HOST = 192.168.0.201   #实例的对外服务 IP 地址
MAL_INST_PORT = 5236            #实例的对外服务端口，和 dm.ini 中的 PORT_NUM 一致
MAL_INST_DW_PORT = 5237         #实例监听守护进程TCP连接的端口
            

[MAL_INST2]
MAL_INST_NAME = mema2
MAL_HOST = 192.168.56.202
MAL_PORT = 5238
MAL_DW_PORT = 5239
MAL_INST_HOST = 192.168.0.202
MAL_INST_PORT = 5236
MAL_INST_DW_PORT = 5237        
"""

DMARCH_INI_HOST1 = """\
[ARCHIVE_REALTIME] 
ARCH_TYPE = REALTIME                       #实时归档类型
ARCH_DEST = mema2                          #实时归档目标实例名

[ARCHIVE_LOCAL1]
ARCH_TYPE = LOCAL                          #本地归档类型
ARCH_DEST = /opt/dm8/data/memadb/arch      #本地归档文件存放路径
ARCH_FILE_SIZE = 128                       #单位 Mb，本地单个归档文件最大值
ARCH_SPACE_LIMIT = 0                       #单位 Mb，0 表示无限制，范围 1024~4294967294M
"""

DMARCH_INI_HOST2 = """\
[ARCHIVE_REALTIME] 
ARCH_TYPE = REALTIME                       #实时归档类型
ARCH_DEST = mema1                          #实时归档目标实例名

[ARCHIVE_LOCAL1]
ARCH_TYPE = LOCAL                          #本地归档类型
ARCH_DEST = /opt/dm8/data/memadb/arch      #本地归档文件存放路径
ARCH_FILE_SIZE = 128                       #单位 Mb，本地单个归档文件最大值
ARCH_SPACE_LIMIT = 0                       #单位 Mb，0 表示无限制，范围 1024~4294967294M
"""

DMWATCHER_INI = """\
[GRP1]
DW_TYPE = GLOBAL                            #全局守护类型
DW_MODE = MANUAL                            #自动切换模式
DW_ERROR_TIME = 10                          #远程守护进程故障认定时间
INST_RECOVER_TIME = 60                      #主库守护进程启动恢复的间隔时间
INST_ERROR_TIME = 10                        #本地实例故障认定时间
INST_OGUID = 453331                         #守护系统唯一 OGUID 值
INST_INI = /opt/dm8/data/memadb/dm.ini      #dm.ini 配置文件路径
INST_AUTO_RESTART = 1                       #打开实例的自动启动功能
INST_STARTUP_CMD = /opt/dm8/bin/dmserver    #命令行方式启动
RLOG_SEND_THRESHOLD = 0                     #指定主库发送日志到备库的时间阀值，默认关闭
RLOG_APPLY_THRESHOLD = 0                    #指定备库重演日志的时间阀值，默认关闭
"""

DMMONITOR_INI = """\
MON_DW_CONFIRM = 1                   #确认监视器模式
MON_LOG_PATH = /opt/dm8/log          #监视器日志文件存放路径
MON_LOG_INTERVAL = 60                #每隔 60s 定时记录系统信息到日志文件
MON_LOG_FILE_SIZE = 32               #每个日志文件最大 32M
MON_LOG_SPACE_LIMIT = 0              #不限定日志文件总占用空间

[GRP1]
MON_INST_OGUID = 453331              #组 GRP1 的唯一 OGUID 值
MON_DW_IP = 192.168.56.201:5239
MON_DW_IP = 192.168.56.202:5239
"""

DM_SVC_CONF = """\
memadb=(192.168.3.201:5236,192.168.3.202:5236)
LOGIN_MODE=(1)
SWITCH_TIME=(3)
SWITCH_INTERVAL=(1000)
"""
