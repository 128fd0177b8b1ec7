output "service_name" {
  description = "ECS service of the cache (valkey-chaos --service)."
  value       = module.valkey.service_name
}

output "capacity" {
  description = "What valkey-chaos capacity reads about the task."
  value       = module.valkey.capacity
}

output "secret_arns" {
  description = "Secrets the execution role must be allowed to read."
  value       = module.valkey.secret_arns
}
