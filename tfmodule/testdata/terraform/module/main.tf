locals {
  base_args = ["valkey-server", "--dir", "/data", "--dbfilename", "dump.rdb"]
  save_args = ["--save", var.save_rules]
  command   = concat(local.base_args, local.save_args, ["--rdbcompression", "yes", "--appendonly", "no"])
  tags      = merge({ Name = var.name }, {})
}

resource "aws_cloudwatch_log_group" "valkey" {
  name              = "/ecs/${var.name}"
  retention_in_days = 30
}

resource "aws_ecs_task_definition" "valkey" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 1024
  memory                   = 2048

  container_definitions = jsonencode([
    {
      name        = var.name
      image       = var.image
      essential   = true
      user        = "1000:1000"
      command     = local.command
      stopTimeout = var.stop_timeout
      portMappings = [{ containerPort = 6379, protocol = "tcp" }]
      mountPoints  = [{ sourceVolume = "data", containerPath = "/data" }]
      healthCheck = {
        command  = ["CMD-SHELL", "[ \"$(valkey-cli ping)\" = PONG ]"]
        interval = 10
      }
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          "awslogs-group"         = aws_cloudwatch_log_group.valkey.name
          "awslogs-region"        = data.aws_region.current.name
          "awslogs-stream-prefix" = "valkey"
        }
      }
    }
  ])

  volume {
    name = "data"
    efs_volume_configuration {
      file_system_id     = aws_efs_file_system.this.id
      transit_encryption = "ENABLED"
    }
  }
  tags = local.tags
}
