# Inputs for scripts/terraform-check.sh only: tfsec scans terraform/common with
# every optional part switched on, so count-guarded resources are checked too.
# Placeholder IDs; never used to deploy.
vpc_id                           = "vpc-00000000000000000"
private_subnet_ids               = ["subnet-0000000000000000a", "subnet-0000000000000000b"]
bastion_security_group_id        = "sg-0000000000000000b"
valkey_client_security_group_ids = ["sg-0000000000000000c"]
valkey_chaos_opt_in              = true
chaos_schedule_enabled           = true
chaos_harness_image_tag          = "scan"
