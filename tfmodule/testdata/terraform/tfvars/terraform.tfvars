save = "45 1"
