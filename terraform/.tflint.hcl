# tflint for every module under terraform/: the bundled terraform ruleset with
# all of its rules (naming, documented and typed variables, unused
# declarations, pinned versions, standard module structure). The AWS ruleset is
# a plugin download, which this machine cannot make; tfsec covers AWS settings.
config {
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "all"
}
