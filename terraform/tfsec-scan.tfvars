# Inputs for scripts/terraform-check.sh only: tfsec scans terraform/common with
# every optional part switched on, so count-guarded resources are checked too.
# Placeholder IDs; never used to deploy.
vpc_id                             = "vpc-00000000000000000"
private_subnet_ids                 = ["subnet-0000000000000000a", "subnet-0000000000000000b"]
bastion_security_group_id          = "sg-0000000000000000b"
valkey_client_security_group_ids   = ["sg-0000000000000000c"]
valkey_chaos_opt_in                = true
chaos_schedule_enabled             = true
chaos_schedule_running             = true
chaos_stop_condition_alarm_names   = ["scan-app-errors"]
chaos_suppressed_alarm_names       = ["scan-app-down"]
chaos_harness_image_tag            = "scan"
valkey_app_password_secret_arn     = "arn:aws:secretsmanager:eu-west-1:000000000000:secret:scan-app-AbCdEf"
valkey_harness_password_secret_arn = "arn:aws:secretsmanager:eu-west-1:000000000000:secret:scan-harness-AbCdEf"
valkey_tls_cert_secret_arn         = "arn:aws:secretsmanager:eu-west-1:000000000000:secret:scan-cert-AbCdEf"
valkey_tls_key_secret_arn          = "arn:aws:secretsmanager:eu-west-1:000000000000:secret:scan-key-AbCdEf"
secrets_kms_key_arn                = "arn:aws:kms:eu-west-1:000000000000:key/00000000-0000-0000-0000-000000000000"
