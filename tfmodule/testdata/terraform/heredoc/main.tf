resource "aws_ecs_task_definition" "cache" {
  family                = "cache"
  container_definitions = <<-JSON
    [
      {
        "name": "valkey",
        "image": "valkey/valkey:8.0.1",
        "command": ["valkey-server", "--save", "300 1", "--save", "60 1000"]
      }
    ]
  JSON
}
