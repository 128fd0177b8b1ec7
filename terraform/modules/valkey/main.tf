# Valkey on ECS Fargate, one task, RDB snapshots on EFS.
#
# The container command is read statically by `valkey-chaos plan --terraform`
# (savepolicy.FromTerraform) and by terraform/modules_test.go: keep everything
# inside container_definitions built from var.*, local.* and literals, and the
# locals below free of resource and data references.

locals {
  save_args      = ["--save", var.save_rules]
  log_group_name = "/ecs/${var.name}"
  container_name = "valkey"
  data_volume    = "valkey-data"
  data_dir       = "/data"
  cluster_name   = element(split("/", var.cluster_arn), length(split("/", var.cluster_arn)) - 1)

  # maxmemory counts the dataset, not a fork's copy-on-write: see
  # variables_capacity.tf.
  maxmemory_bytes = var.maxmemory_bytes != null ? var.maxmemory_bytes : floor(var.memory * 1048576 * var.maxmemory_percent / 100)

  auth_enabled    = var.app_password_secret_arn != null
  harness_enabled = var.harness_password_secret_arn != null
  harness_acl_rules = join(" ", concat(
    ["~${var.harness_key_prefix}*", "&__keyevent@*__:*", "-@all", "+@read", "+@write", "-@dangerous"],
    ["+ping", "+echo", "+hello", "+client|setname", "+client|setinfo", "+client|id", "+select", "+dbsize", "+scan"],
    ["+subscribe", "+psubscribe", "+unsubscribe", "+punsubscribe", "+info", "+config|get", "+bgsave"],
    var.harness_may_crash ? ["+shutdown"] : [],
  ))

  # TLS material: files on the volume, or secrets the start-up script writes
  # to /data/.tls (0600, the access point's user; same trust as dump.rdb).
  tls_dir      = "${local.data_dir}/.tls"
  tls_cert     = var.tls_cert_file != null ? var.tls_cert_file : "${local.tls_dir}/server.crt"
  tls_key      = var.tls_key_file != null ? var.tls_key_file : "${local.tls_dir}/server.key"
  tls_ca       = var.tls_ca_file != null ? var.tls_ca_file : (var.tls_ca_secret_arn != null ? "${local.tls_dir}/ca.crt" : null)
  tls_from_env = var.tls_enabled && (var.tls_cert_secret_arn != null || var.tls_key_secret_arn != null || var.tls_ca_secret_arn != null)
  tls_args = var.tls_enabled ? concat(
    ["--port", "0", "--tls-port", format("%d", var.container_port), "--tls-cert-file", local.tls_cert, "--tls-key-file", local.tls_key],
    local.tls_ca == null ? [] : ["--tls-ca-cert-file", local.tls_ca],
    ["--tls-auth-clients", var.tls_auth_clients],
  ) : ["--port", format("%d", var.container_port)]

  server_args = concat(
    [
      "--dir", local.data_dir,
      "--dbfilename", "dump.rdb",
      "--rdbcompression", "yes",
      "--appendonly", "no",
      "--stop-writes-on-bgsave-error", var.stop_writes_on_bgsave_error ? "yes" : "no",
      "--maxmemory", format("%d", local.maxmemory_bytes),
      "--maxmemory-policy", var.maxmemory_policy,
    ],
    local.tls_args,
    # The harness records evicted and expired keys from keyevents; its ACL
    # user may not CONFIG SET (ACL cannot allow one parameter: "Allowing
    # first-arg of a subcommand is not supported"), so the server starts
    # with them on. E: keyevent channels, e: evicted, x: expired.
    local.harness_enabled ? ["--notify-keyspace-events", "Exe"] : [],
    local.save_args,
  )

  # The start-up wrapper: ACL users from the secrets in the environment, TLS
  # files, then the single-writer lock, then exec valkey-server. fd 9 stays
  # open across exec and fork, so the lock lives as long as the server and
  # its save child; Linux emulates flock on NFS with POSIX locks, which NFSv4
  # (EFS) keeps server-side, across tasks. set -f keeps ACL patterns literal.
  start_script = join("\n", concat(
    ["set -euf", "umask 077"],
    local.tls_from_env ? concat(
      ["mkdir -p ${local.tls_dir}"],
      var.tls_cert_secret_arn == null ? [] : ["printf '%s\\n' \"$VALKEY_TLS_CERT\" > ${local.tls_cert}"],
      var.tls_key_secret_arn == null ? [] : ["printf '%s\\n' \"$VALKEY_TLS_KEY\" > ${local.tls_key}"],
      var.tls_ca_secret_arn == null ? [] : ["printf '%s\\n' \"$VALKEY_TLS_CA\" > ${local.tls_ca}"],
      ["unset VALKEY_TLS_CERT VALKEY_TLS_KEY VALKEY_TLS_CA"],
    ) : [],
    local.auth_enabled ? concat(
      var.app_user == "default" ? [] : ["set -- \"$@\" --user default reset"],
      ["set -- \"$@\" --user \"$VALKEY_APP_USER\" reset on \">$VALKEY_APP_PASSWORD\" $VALKEY_APP_ACL"],
      local.harness_enabled ? ["set -- \"$@\" --user \"$VALKEY_HARNESS_USER\" reset on \">$VALKEY_HARNESS_PASSWORD\" $VALKEY_HARNESS_ACL"] : [],
      ["unset VALKEY_APP_PASSWORD VALKEY_HARNESS_PASSWORD"],
    ) : [],
    var.single_writer_lock ? [
      "exec 9>>\"$VALKEY_WRITER_LOCK\"",
      "if ! flock -n -x 9; then",
      "  echo \"valkey-writer-lock: $VALKEY_WRITER_LOCK is held by another task (a stopping task saving); waiting up to $VALKEY_WRITER_LOCK_WAIT s\" >&2",
      "  flock -x -w \"$VALKEY_WRITER_LOCK_WAIT\" 9 || { echo \"valkey-writer-lock: still held after $VALKEY_WRITER_LOCK_WAIT s; exiting so ECS starts another task\" >&2; exit 75; }",
      "fi",
      "echo \"valkey-writer-lock: acquired $VALKEY_WRITER_LOCK\" >&2",
    ] : [],
    ["exec valkey-server \"$@\""],
  ))
  use_wrapper = var.single_writer_lock || local.auth_enabled || local.tls_from_env
  # sh -c SCRIPT valkey-server ARGS...: the image's entrypoint execs sh (its
  # first word is not an option), sh runs SCRIPT with $0 = valkey-server and
  # $@ = ARGS, so the --save arguments stay separate list elements.
  command = local.use_wrapper ? concat(["sh", "-c", local.start_script, "valkey-server"], local.server_args) : local.server_args

  environment = concat(
    var.single_writer_lock ? [
      { name = "VALKEY_WRITER_LOCK", value = "${local.data_dir}/.valkey-writer.lock" },
      { name = "VALKEY_WRITER_LOCK_WAIT", value = format("%d", var.writer_lock_wait) },
    ] : [],
    local.auth_enabled ? [
      { name = "VALKEY_APP_USER", value = var.app_user },
      { name = "VALKEY_APP_ACL", value = var.app_acl_rules },
    ] : [],
    local.harness_enabled ? [
      { name = "VALKEY_HARNESS_USER", value = var.harness_user },
      { name = "VALKEY_HARNESS_ACL", value = local.harness_acl_rules },
    ] : [],
  )

  secrets = [for s in [
    { name = "VALKEY_APP_PASSWORD", valueFrom = var.app_password_secret_arn },
    { name = "VALKEY_HARNESS_PASSWORD", valueFrom = var.harness_password_secret_arn },
    { name = "VALKEY_TLS_CERT", valueFrom = var.tls_enabled ? var.tls_cert_secret_arn : null },
    { name = "VALKEY_TLS_KEY", valueFrom = var.tls_enabled ? var.tls_key_secret_arn : null },
    { name = "VALKEY_TLS_CA", valueFrom = var.tls_enabled ? var.tls_ca_secret_arn : null },
  ] : s if s.valueFrom != null]
  # The secrets' own ARNs (valueFrom may add :json-key:version-stage:version-id),
  # for the execution role's secretsmanager:GetSecretValue grant.
  secret_arns = distinct([for s in local.secrets : join(":", slice(split(":", s.valueFrom), 0, 7))])

  # The health check: valkey-cli exits 0 on LOADING and MISCONF replies, so
  # compare the reply. LOADING counts as healthy while the server has been
  # up less than health_check_loading_grace seconds (INFO answers during a
  # load): a load longer than ECS's 300 s start period is not killed and
  # restarted from the beginning. The password comes from the environment.
  cli = join(" ", compact([
    local.auth_enabled ? "REDISCLI_AUTH=\"$VALKEY_APP_PASSWORD\"" : "",
    "valkey-cli --no-auth-warning -h 127.0.0.1 -p ${var.container_port}",
    local.auth_enabled ? "--user \"$VALKEY_APP_USER\"" : "",
    var.tls_enabled ? "--tls --insecure" : "",
    var.tls_enabled && var.tls_auth_clients == "yes" ? "--cert ${local.tls_cert} --key ${local.tls_key}" : "",
  ]))
  health_check = join(" ", [
    "r=$(${local.cli} ping 2>&1);",
    "case \"$r\" in PONG) exit 0 ;;",
    "LOADING*) up=$(${local.cli} info server 2>/dev/null | tr -d '\\r' | sed -n 's/^uptime_in_seconds://p');",
    "[ -n \"$up\" ] && [ \"$up\" -lt ${var.health_check_loading_grace} ] ;;",
    "*) exit 1 ;; esac",
  ])
}

resource "aws_cloudwatch_log_group" "valkey" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

resource "aws_efs_file_system" "valkey" {
  creation_token                  = "${var.name}-efs"
  encrypted                       = true
  kms_key_id                      = var.efs_kms_key_arn
  performance_mode                = "generalPurpose"
  throughput_mode                 = var.efs_throughput_mode
  provisioned_throughput_in_mibps = var.efs_throughput_mode == "provisioned" ? var.efs_provisioned_throughput_mibps : null

  dynamic "lifecycle_policy" {
    for_each = var.efs_transition_to_ia == null ? [] : [var.efs_transition_to_ia]

    content {
      transition_to_ia = lifecycle_policy.value
    }
  }

  tags = merge(var.tags, { Name = "${var.name}-efs" })
}

# Without a file system policy EFS lets any client that reaches a mount target
# mount it; this one refuses unencrypted connections, and leaves access to
# identity policies (the task role allows mount+write through the access point).
resource "aws_efs_file_system_policy" "valkey" {
  file_system_id = aws_efs_file_system.valkey.id
  policy         = data.aws_iam_policy_document.efs.json
}

data "aws_iam_policy_document" "efs" {
  statement {
    sid     = "DenyUnencryptedTransport"
    effect  = "Deny"
    actions = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["*"]
    }

    resources = [aws_efs_file_system.valkey.arn]

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

# Keyed by subnet: removing one subnet from the list destroys only its mount
# target, not every one after it.
resource "aws_efs_mount_target" "valkey" {
  for_each = toset(var.subnet_ids)

  file_system_id  = aws_efs_file_system.valkey.id
  subnet_id       = each.value
  security_groups = [var.efs_security_group_id]
}

# The access point pins every client to posix_uid:posix_gid and roots it in its
# own directory, created with that owner on first mount.
resource "aws_efs_access_point" "valkey" {
  file_system_id = aws_efs_file_system.valkey.id

  posix_user {
    uid = var.posix_uid
    gid = var.posix_gid
  }

  root_directory {
    path = "/valkey"

    creation_info {
      owner_uid   = var.posix_uid
      owner_gid   = var.posix_gid
      permissions = "0750"
    }
  }

  tags = merge(var.tags, { Name = "${var.name}-data" })
}

resource "aws_ecs_task_definition" "valkey" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  task_role_arn            = var.task_role_arn
  execution_role_arn       = var.execution_role_arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  volume {
    name = local.data_volume

    efs_volume_configuration {
      file_system_id     = aws_efs_file_system.valkey.id
      transit_encryption = "ENABLED"

      authorization_config {
        access_point_id = aws_efs_access_point.valkey.id
        iam             = "ENABLED"
      }
    }
  }

  container_definitions = jsonencode([
    {
      name      = local.container_name
      image     = var.image
      essential = true
      # The access point's uid:gid; as root the entrypoint's chown of /data fails.
      user                   = "${var.posix_uid}:${var.posix_gid}"
      readonlyRootFilesystem = true
      command                = local.command
      environment            = local.environment
      secrets                = local.secrets
      portMappings = [
        {
          containerPort = var.container_port
          protocol      = "tcp"
        },
      ]
      mountPoints = [
        {
          sourceVolume  = local.data_volume
          containerPath = "/data"
          readOnly      = false
        },
      ]
      # SIGTERM makes Valkey write its final snapshot; SIGKILL follows after this.
      stopTimeout = var.stop_timeout
      healthCheck = {
        command     = ["CMD-SHELL", local.health_check]
        interval    = var.health_check_interval
        timeout     = var.health_check_timeout
        retries     = var.health_check_retries
        startPeriod = var.health_check_start_period
      }
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = local.log_group_name
          awslogs-region        = var.aws_region
          awslogs-stream-prefix = var.log_stream_prefix
          mode                  = var.awslogs_mode
        }
      }
    },
  ])

  tags = var.tags
}

resource "aws_service_discovery_service" "valkey" {
  name = var.service_discovery_name

  dns_config {
    namespace_id   = var.service_discovery_namespace_id
    routing_policy = "MULTIVALUE"

    dns_records {
      ttl  = 10
      type = "A"
    }
  }

  health_check_custom_config {
    failure_threshold = 1
  }

  tags = var.tags
}

resource "aws_ecs_service" "valkey" {
  name                               = var.name
  cluster                            = var.cluster_arn
  task_definition                    = aws_ecs_task_definition.valkey.arn
  desired_count                      = 1
  launch_type                        = "FARGATE"
  platform_version                   = var.platform_version
  deployment_minimum_healthy_percent = var.deployment_minimum_healthy_percent
  deployment_maximum_percent         = var.deployment_maximum_percent
  enable_execute_command             = var.enable_execute_command
  enable_ecs_managed_tags            = true
  propagate_tags                     = "SERVICE"

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = var.security_group_ids
    assign_public_ip = false
  }

  service_registries {
    registry_arn = aws_service_discovery_service.valkey.arn
  }

  tags = merge(var.tags, { for k, v in { "valkey-chaos" = "allowed" } : k => v if var.chaos_opt_in })

  # A task that starts before its mount target exists fails to mount /data.
  depends_on = [aws_efs_mount_target.valkey]
}
