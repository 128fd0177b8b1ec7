# A small module in the shape of terraform/modules/valkey: the capacity
# output built from variables and a local, overridden by terraform.tfvars.
variable "cpu" {
  type    = number
  default = 512
}

variable "memory" {
  type    = number
  default = 1024
}

variable "maxmemory_percent" {
  type    = number
  default = 30
}

variable "efs_throughput_mode" {
  type    = string
  default = "elastic"
}

variable "efs_provisioned_throughput_mibps" {
  type    = number
  default = null
}

locals {
  maxmemory_bytes = floor(var.memory * 1048576 * var.maxmemory_percent / 100)
}

output "capacity" {
  value = {
    cpu                              = var.cpu
    memory_mib                       = var.memory
    stop_timeout                     = 90
    health_check_interval            = 15
    health_check_timeout             = 4
    health_check_retries             = 2
    health_check_start_period        = 45
    health_check_loading_grace       = 0
    maxmemory_bytes                  = local.maxmemory_bytes
    maxmemory_policy                 = "noeviction"
    efs_throughput_mode              = var.efs_throughput_mode
    efs_provisioned_throughput_mibps = var.efs_provisioned_throughput_mibps
  }
}
