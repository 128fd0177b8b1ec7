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
      values   = [local.account_id]
    }

    # Tasks of this account and region only (the task ARN is the source).
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:*"]
    }
  }
}

# The harness: find the Valkey task, stop it, force a deployment of that one
# service, read its log, publish metrics into one namespace, check a stop
# condition alarm. The uploader shares the task role and may only add results.
resource "aws_iam_role" "harness_task" {
  name               = "${var.name}-task"
  description        = "valkey-chaos harness: stop and observe the Valkey service"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "harness_task" {
  statement {
    sid     = "FindTasksInTheCluster"
    actions = ["ecs:ListTasks", "ecs:DescribeTasks"]
    #tfsec:ignore:aws-iam-no-policy-wildcards ListTasks has no task resource to name; the ecs:cluster condition below confines both calls to this cluster
    resources = ["*"]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [var.cluster_arn]
    }
  }

  statement {
    sid = "ReadTheService"
    actions = [
      "ecs:DescribeServices",
      "ecs:ListTagsForResource",
    ]
    resources = [var.valkey_service_arn]
  }

  # Task definitions are not resource-scoped for Describe.
  statement {
    sid       = "ReadTaskDefinitions"
    actions   = ["ecs:DescribeTaskDefinition"]
    resources = ["*"]
  }

  # Only tasks in this cluster that carry the opt-in tag the Valkey service
  # propagates: IAM enforces the same guard the harness checks.
  statement {
    sid     = "StopOptedInTasks"
    actions = ["ecs:StopTask"]
    #tfsec:ignore:aws-iam-no-policy-wildcards task ids are only known at run time; the cluster and opt-in tag conditions below scope it
    resources = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:task/${local.cluster_name}/*"]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [var.cluster_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/valkey-chaos"
      values   = ["allowed"]
    }

    # The tag ECS itself puts on a service's tasks (enable_ecs_managed_tags):
    # tasks of the Valkey service only, not any tagged task in the cluster.
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/aws:ecs:serviceName"
      values   = [var.valkey_service_name]
    }
  }

  # Only while the service still carries the opt-in tag.
  statement {
    sid       = "RollTheService"
    actions   = ["ecs:UpdateService"]
    resources = [var.valkey_service_arn]

    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/valkey-chaos"
      values   = ["allowed"]
    }
  }

  # GetLogEvents only: the harness reads each task's stream by name
  # (<prefix>/<container>/<task-id>) and never lists or filters.
  statement {
    sid     = "ReadTheValkeyLog"
    actions = ["logs:GetLogEvents"]
    #tfsec:ignore:aws-iam-no-policy-wildcards log streams are named <prefix>/valkey/<task-id>: every stream of this one log group
    resources = [var.valkey_log_group_arn, "${var.valkey_log_group_arn}:*"]
  }

  # PutMetricData has no resource type; the namespace condition is the scope.
  statement {
    sid       = "PublishIntoOneNamespace"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [var.metric_namespace]
    }
  }

  # Only the alarms named as stop conditions (--alarm in the command).
  dynamic "statement" {
    for_each = length(var.stop_condition_alarm_names) > 0 ? [1] : []

    content {
      sid       = "ReadStopConditionAlarms"
      actions   = ["cloudwatch:DescribeAlarms"]
      resources = [for n in var.stop_condition_alarm_names : "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${n}"]
    }
  }

  statement {
    sid     = "UploadResults"
    actions = ["s3:PutObject"]
    #tfsec:ignore:aws-iam-no-policy-wildcards object keys are runs/<run-id>/...: new objects under one prefix of this one bucket
    resources = ["${aws_s3_bucket.results.arn}/runs/*"]
  }

  statement {
    sid       = "EncryptResults"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.harness.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "harness_task" {
  name   = "valkey-chaos"
  role   = aws_iam_role.harness_task.id
  policy = data.aws_iam_policy_document.harness_task.json
}

resource "aws_iam_role" "harness_execution" {
  name               = "${var.name}-execution"
  description        = "valkey-chaos harness task execution: image pull and logs"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "harness_execution" {
  # The registry token call has no resource type.
  statement {
    sid       = "RegistryLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "PullTheHarnessImage"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [aws_ecr_repository.harness.arn]
  }

  statement {
    sid = "WriteTheHarnessLog"
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]
    #tfsec:ignore:aws-iam-no-policy-wildcards log streams are named after task ids: every stream of the harness log group only
    resources = [aws_cloudwatch_log_group.harness.arn, "${aws_cloudwatch_log_group.harness.arn}:*"]
  }

  # The Valkey password the harness gets as VALKEY_PASSWORD.
  dynamic "statement" {
    for_each = length(local.harness_secret_arns) > 0 ? [1] : []

    content {
      sid       = "ReadTheValkeyPassword"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = local.harness_secret_arns
    }
  }
}

resource "aws_iam_role_policy" "harness_execution" {
  name   = "pull-and-log"
  role   = aws_iam_role.harness_execution.id
  policy = data.aws_iam_policy_document.harness_execution.json
}

# EventBridge Scheduler: run exactly this task definition in this cluster.
data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    # This one schedule (built from its name: the schedule refers to the role).
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [local.schedule_arn]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${var.name}-scheduler"
  description        = "EventBridge Scheduler: starts the valkey-chaos task"
  assume_role_policy = data.aws_iam_policy_document.scheduler_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "RunTheHarness"
    actions   = ["ecs:RunTask"]
    resources = [aws_ecs_task_definition.harness.arn]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [var.cluster_arn]
    }
  }

  statement {
    sid       = "PassTheHarnessRoles"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.harness_task.arn, aws_iam_role.harness_execution.arn]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }

  # A run the scheduler could not start lands in the dead-letter queue.
  statement {
    sid       = "DeadLetterUndeliveredRuns"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.schedule_dlq.arn]
  }

  statement {
    sid       = "EncryptDeadLetters"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.harness.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["sqs.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "run-harness"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}
