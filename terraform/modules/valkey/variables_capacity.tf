# Memory, the health check and the single-writer guard. `valkey-chaos
# capacity --terraform` reads these statically (variable defaults and the
# container definition), so keep them plain values.

variable "maxmemory_percent" {
  description = "maxmemory as a percentage of the task memory, used when maxmemory_bytes is null. maxmemory counts the dataset, not the copy-on-write pages a BGSAVE fork adds, so the default 40 leaves the rest of the task for the fork's copies, the buffers and the allocator: under half of the task."
  type        = number
  default     = 40

  validation {
    condition     = var.maxmemory_percent >= 5 && var.maxmemory_percent <= 90 && floor(var.maxmemory_percent) == var.maxmemory_percent
    error_message = "The maxmemory_percent must be a whole number from 5 to 90 (above 50 a BGSAVE under heavy writes can double the dataset and be OOM-killed)."
  }
}

variable "maxmemory_bytes" {
  description = "maxmemory in bytes; null derives it from memory and maxmemory_percent. Must stay below the task memory."
  type        = number
  default     = null

  validation {
    condition     = var.maxmemory_bytes == null || try(var.maxmemory_bytes >= 1048576 && var.maxmemory_bytes < var.memory * 1048576 && floor(var.maxmemory_bytes) == var.maxmemory_bytes, false)
    error_message = "The maxmemory_bytes must be a whole number of bytes from 1 MiB to below the task memory (memory MiB x 1048576)."
  }
}

variable "maxmemory_policy" {
  description = "maxmemory-policy. allkeys-lru (default) makes a full cache evict the least recently used keys; noeviction makes writes fail with OOM instead. Evicted keys are not persistence loss: valkey-chaos counts them separately."
  type        = string
  default     = "allkeys-lru"

  validation {
    condition     = contains(["noeviction", "allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"], var.maxmemory_policy)
    error_message = "The maxmemory_policy must be one of noeviction, allkeys-lru, allkeys-lfu, allkeys-random, volatile-lru, volatile-lfu, volatile-random, volatile-ttl."
  }
}

variable "health_check_interval" {
  description = "Seconds between health checks (ECS: 5-300)."
  type        = number
  default     = 10

  validation {
    condition     = var.health_check_interval >= 5 && var.health_check_interval <= 300
    error_message = "The health_check_interval must be from 5 to 300 seconds."
  }
}

variable "health_check_timeout" {
  description = "Seconds one health check may take (ECS: 2-60, and less than the interval)."
  type        = number
  default     = 5

  validation {
    condition     = var.health_check_timeout >= 2 && var.health_check_timeout <= 60 && var.health_check_timeout < var.health_check_interval
    error_message = "The health_check_timeout must be from 2 to 60 seconds and below health_check_interval."
  }
}

variable "health_check_retries" {
  description = "Consecutive failed checks (after the start period) that make the container unhealthy (ECS: 1-10)."
  type        = number
  default     = 3

  validation {
    condition     = var.health_check_retries >= 1 && var.health_check_retries <= 10
    error_message = "The health_check_retries must be from 1 to 10."
  }
}

variable "health_check_loading_grace" {
  description = "Seconds of server uptime during which a LOADING reply counts as healthy, so ECS does not kill a task that is still loading dump.rdb (killing it restarts the load from the beginning: a crash loop). Size it from the dataset: about twice the load time of the largest dump (bytes / EFS read rate). 0 treats LOADING as unhealthy."
  type        = number
  default     = 600

  validation {
    condition     = var.health_check_loading_grace >= 0 && var.health_check_loading_grace <= 86400 && floor(var.health_check_loading_grace) == var.health_check_loading_grace
    error_message = "The health_check_loading_grace must be a whole number of seconds from 0 to 86400."
  }
}

variable "single_writer_lock" {
  description = "Start valkey-server only after taking an exclusive lock (flock) on /data/.valkey-writer.lock, held until the server and its save child exit. This, not the deployment percentages, keeps a replacement task from loading or saving while a stopping task still writes its final snapshot."
  type        = bool
  default     = true
}

variable "writer_lock_wait" {
  description = "Seconds a starting task waits for the writer lock before it exits (ECS then starts another). Longer than stop_timeout, so the old task's final save always finishes first."
  type        = number
  default     = 180

  validation {
    condition     = var.writer_lock_wait > var.stop_timeout && var.writer_lock_wait <= 3600 && floor(var.writer_lock_wait) == var.writer_lock_wait
    error_message = "The writer_lock_wait must be a whole number of seconds above stop_timeout (the old task may take that long to save) and at most 3600."
  }
}
