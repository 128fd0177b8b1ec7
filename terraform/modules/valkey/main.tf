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

  lifecycle_policy {
    transition_to_ia = var.efs_transition_to_ia
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

resource "aws_efs_mount_target" "valkey" {
  count = length(var.subnet_ids)

  file_system_id  = aws_efs_file_system.valkey.id
  subnet_id       = var.subnet_ids[count.index]
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
      # The image's entrypoint prepends valkey-server to arguments starting with "-".
      command = concat(
        [
          "--dir", "/data",
          "--dbfilename", "dump.rdb",
          "--rdbcompression", "yes",
          "--appendonly", "no",
          "--stop-writes-on-bgsave-error", var.stop_writes_on_bgsave_error ? "yes" : "no",
        ],
        local.save_args,
      )
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
      # valkey-cli exits 0 on LOADING and MISCONF replies: compare the reply.
      healthCheck = {
        command     = ["CMD-SHELL", "valkey-cli ping | grep -q PONG"]
        interval    = 10
        timeout     = 5
        retries     = 3
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
