variable "rules" {
  default = "600 5 30 100000"
}

resource "aws_ecs_task_definition" "cache" {
  family = "cache"
  container_definitions = jsonencode([{
    name       = "cache"
    image      = "valkey/valkey:8.0.1"
    entryPoint = ["sh", "-c"]
    command    = ["exec valkey-server --dir /data --save '${var.rules}' --appendonly no"]
  }])
}
