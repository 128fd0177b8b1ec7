variable "save" {
  default = "3600 1 120 50"
}

resource "aws_ecs_task_definition" "cache" {
  family = "cache"
  container_definitions = jsonencode([{
    name    = "valkey"
    image   = "valkey/valkey:8.0.1"
    command = concat(["valkey-server", "--dir", "/data"], ["--save", var.save], ["--appendonly", "no"])
  }])
}
