memory                           = 2048
efs_throughput_mode              = "provisioned"
efs_provisioned_throughput_mibps = 64
