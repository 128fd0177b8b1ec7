# The EFS mount targets accept NFS from exactly two places: the Valkey task and
# the bastion (to inspect or restore dump.rdb). Nothing else, and no egress:
# NFS replies ride the connection the client opened.
resource "aws_security_group" "efs_valkey" {
  name        = "${var.name_prefix}-valkey-efs"
  description = "EFS mount targets of the Valkey data volume: NFS from the Valkey task and the bastion only"
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name_prefix}-valkey-efs" }
}

resource "aws_vpc_security_group_ingress_rule" "efs_from_valkey" {
  security_group_id            = aws_security_group.efs_valkey.id
  description                  = "NFS from the Valkey task"
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = aws_security_group.valkey_tasks.id
}

resource "aws_vpc_security_group_ingress_rule" "efs_from_bastion" {
  security_group_id            = aws_security_group.efs_valkey.id
  description                  = "NFS from the bastion"
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = var.bastion_security_group_id
}
