variable "save_rules" {
  type = string
}

resource "aws_ecs_task_definition" "cache" {
  family = "cache"
  container_definitions = jsonencode([{
    name    = "valkey"
    image   = "valkey/valkey:8.0.1"
    command = ["valkey-server", "--save", var.save_rules]
  }])
}
