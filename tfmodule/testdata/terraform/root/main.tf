variable "cache_save" {
  default = "120 1 30 5000"
}

module "valkey" {
  source     = "../module"
  name       = "cache"
  image      = "valkey/valkey:8.0.1"
  save_rules = var.cache_save
}

module "elsewhere" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "~> 5.0"
}
