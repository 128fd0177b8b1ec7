# valkey-chaos as a scheduled ECS task: EventBridge Scheduler runs the harness
# against the Valkey service; the harness publishes its verdict to CloudWatch
# (alarmed below) and a second container copies /results to S3 once the
# harness has exited.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id   = data.aws_caller_identity.current.account_id
  partition    = data.aws_partition.current.partition
  region       = data.aws_region.current.name
  cluster_name = element(split("/", var.cluster_arn), length(split("/", var.cluster_arn)) - 1)
  log_group    = "/ecs/${var.name}"
  schedule_arn = "arn:${local.partition}:scheduler:${local.region}:${local.account_id}:schedule/default/${var.name}"
  # A digest pins the image by content; a tag by name (immutable repository).
  harness_image = startswith(var.harness_image_tag, "sha256:") ? "${aws_ecr_repository.harness.repository_url}@${var.harness_image_tag}" : "${aws_ecr_repository.harness.repository_url}:${var.harness_image_tag}"
  harness_secrets = var.valkey_password_secret_arn == null ? [] : [
    { name = "VALKEY_PASSWORD", valueFrom = var.valkey_password_secret_arn },
  ]
  # The secret's own ARN (valueFrom may add :json-key:stage:version).
  harness_secret_arns = [for s in local.harness_secrets : join(":", slice(split(":", s.valueFrom), 0, 7))]

  harness_command = concat(
    [
      "run",
      "--target", "ecs",
      "--cluster", var.cluster_arn,
      "--service", var.valkey_service_name,
      "--region", local.region,
      "--publish", "cloudwatch:${var.metric_namespace}",
      "--out", "/results",
    ],
    var.valkey_endpoint == null ? [] : ["--endpoint", var.valkey_endpoint],
    var.valkey_user == null ? [] : ["--user", var.valkey_user, "--password-env", "VALKEY_PASSWORD"],
    var.valkey_tls ? ["--tls"] : [],
    var.valkey_tls_server_name == null ? [] : ["--tls-server-name", var.valkey_tls_server_name],
    flatten([for a in var.stop_condition_alarm_names : ["--alarm", a]]),
    var.extra_args,
    var.scenarios,
  )
}

# One key for the results bucket, the harness log group, the image
# repository, the schedule's dead-letter queue and the alerts topic.
resource "aws_kms_key" "harness" {
  description         = "${var.name}: results bucket, harness logs, image repository, dead-letter queue, alerts topic"
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.kms.json
  tags                = var.tags
}

resource "aws_kms_alias" "harness" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.harness.key_id
}

data "aws_iam_policy_document" "kms" {
  statement {
    sid       = "AccountAdministersTheKey"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid = "LogsEncryptsTheHarnessLogGroup"
    actions = [
      "kms:Encrypt*",
      "kms:Decrypt*",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group}"]
    }
  }

  # CloudWatch alarms and the EventBridge rule publish to the encrypted
  # alerts topic: SNS asks for a data key on their behalf.
  statement {
    sid       = "AlarmsAndEventsPublishToTheAlertsTopic"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "events.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_ecr_repository" "harness" {
  name                 = var.name
  image_tag_mutability = "IMMUTABLE"
  force_delete         = var.repository_force_delete

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.harness.arn
  }

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "harness" {
  name              = local.log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.harness.arn
  tags              = var.tags
}

resource "aws_ecs_task_definition" "harness" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  task_role_arn            = aws_iam_role.harness_task.arn
  execution_role_arn       = aws_iam_role.harness_execution.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  # Task-local scratch; the image declares VOLUME for both paths, so ECS copies
  # their non-root ownership into the bind mounts.
  volume {
    name = "results"
  }

  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([
    {
      name                   = "harness"
      image                  = local.harness_image
      essential              = false
      user                   = "65532:65532"
      readonlyRootFilesystem = true
      command                = local.harness_command
      secrets                = local.harness_secrets
      # SIGTERM makes the harness restore what it changed and write a partial result.
      stopTimeout = 120
      mountPoints = [
        { sourceVolume = "results", containerPath = "/results", readOnly = false },
        { sourceVolume = "tmp", containerPath = "/tmp", readOnly = false },
      ]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.harness.name
          awslogs-region        = local.region
          awslogs-stream-prefix = "harness"
        }
      }
    },
    {
      # Starts once the harness has exited, whatever its exit code, and ends the task.
      name      = "upload"
      image     = var.uploader_image
      essential = true
      # Non-root and read-only like the harness; the CLI's cache goes to /tmp.
      user                   = "65532:65532"
      readonlyRootFilesystem = true
      environment            = [{ name = "HOME", value = "/tmp" }]
      command                = ["s3", "cp", "/results", "s3://${aws_s3_bucket.results.id}/runs/", "--recursive", "--only-show-errors"]
      dependsOn = [
        { containerName = "harness", condition = "COMPLETE" },
      ]
      mountPoints = [
        { sourceVolume = "results", containerPath = "/results", readOnly = true },
        { sourceVolume = "tmp", containerPath = "/tmp", readOnly = false },
      ]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.harness.name
          awslogs-region        = local.region
          awslogs-stream-prefix = "upload"
        }
      }
    },
  ])

  tags = var.tags
}
