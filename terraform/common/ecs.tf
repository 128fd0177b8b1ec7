# Roles of the Valkey task. The task role is what the EFS volume's IAM
# authorization checks: mount and write, only through the module's access
# point. No ClientRootAccess: the access point maps every client to uid 1000.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:ecs:${var.aws_region}:${data.aws_caller_identity.current.account_id}:*"]
    }
  }
}

resource "aws_iam_role" "valkey_task" {
  name               = "${var.name_prefix}-valkey-task"
  description        = "Valkey task: mounts and writes its EFS access point"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "valkey_task" {
  statement {
    sid = "MountAndWriteThroughAccessPoint"
    actions = [
      "elasticfilesystem:ClientMount",
      "elasticfilesystem:ClientWrite",
    ]
    resources = [module.valkey.efs_file_system_arn]

    condition {
      test     = "StringEquals"
      variable = "elasticfilesystem:AccessPointArn"
      values   = [module.valkey.efs_access_point_arn]
    }
  }
}

resource "aws_iam_role_policy" "valkey_task" {
  name   = "efs-access-point"
  role   = aws_iam_role.valkey_task.id
  policy = data.aws_iam_policy_document.valkey_task.json
}

# The execution role ships logs and reads the Valkey secrets: the image comes
# from Docker Hub, which needs no AWS permission.
resource "aws_iam_role" "valkey_execution" {
  name               = "${var.name_prefix}-valkey-execution"
  description        = "Valkey task execution: writes the container log"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "valkey_execution" {
  statement {
    sid = "WriteContainerLog"
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]
    #tfsec:ignore:aws-iam-no-policy-wildcards log streams are named <prefix>/valkey/<task-id>: every stream of the Valkey log group only
    resources = [module.valkey.log_group_arn, "${module.valkey.log_group_arn}:*"]
  }

  # The passwords and TLS material the container gets as ECS secrets.
  dynamic "statement" {
    for_each = length(module.valkey.secret_arns) > 0 ? [1] : []

    content {
      sid       = "ReadValkeySecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = module.valkey.secret_arns
    }
  }

  dynamic "statement" {
    for_each = var.secrets_kms_key_arn == null ? [] : [1]

    content {
      sid       = "DecryptValkeySecrets"
      actions   = ["kms:Decrypt"]
      resources = [var.secrets_kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["secretsmanager.${var.aws_region}.amazonaws.com"]
      }
    }
  }
}

resource "aws_iam_role_policy" "valkey_execution" {
  name   = "container-log"
  role   = aws_iam_role.valkey_execution.id
  policy = data.aws_iam_policy_document.valkey_execution.json
}
