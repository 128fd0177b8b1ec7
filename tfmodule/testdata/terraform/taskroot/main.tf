# A root calling the task module: its arguments apply, the module's own
# terraform.tfvars does not (Terraform reads tfvars at the root only).
variable "cache_memory" {
  default = 4096
}

module "cache" {
  source = "../task"
  cpu    = 1024
  memory = var.cache_memory
}
