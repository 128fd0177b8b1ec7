resource "aws_ecs_task_definition" "cache" {
  family = "cache"
  container_definitions = jsonencode([{
    name    = "valkey"
    image   = "valkey/valkey:8.0.1"
    command = ["valkey-server", "--dir", "/data"]
  }])
}
