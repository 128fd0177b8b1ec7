output "valkey_capacity" {
  description = "What valkey-chaos capacity reads about the task."
  value       = module.valkey.capacity
}

output "harness_command" {
  description = "The valkey-chaos command line the schedule runs."
  value       = module.chaos_schedule.harness_command
}

output "chaos_alerts_topic_arn" {
  description = "Subscribe to this topic for chaos run alerts."
  value       = module.chaos_schedule.alerts_topic_arn
}

output "composite_alarm_names" {
  description = "Alarms that page like the cache's, except during a chaos run."
  value       = module.chaos_schedule.composite_alarm_names
}
